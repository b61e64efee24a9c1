package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"

	"github.com/anthropics/cco/ledger/store"
)

// survivor is what the writer remembers of a stored call to decide, when
// another copy arrives, which one the ledger keeps.
type survivor struct {
	id        int64
	total     int64
	offset    int64
	file      int64
	sidechain bool
}

// index is the writer's in-memory view of every stored call's dedupe key.
// Only the ingest goroutine touches it. Several keys can lead to one call:
// a /btw replay's (message.id, requestId) leads to the call it replays.
type index struct {
	slots []survivor
	byKey map[[16]byte]int32
	byMsg map[int64]int32 // message.id hash → the first call with that id and a requestId
}

func newIndex() *index {
	return &index{byKey: map[[16]byte]int32{}, byMsg: map[int64]int32{}}
}

// add records a new call under key and returns its slot.
func (x *index) add(key [16]byte, msg int64, s survivor) int32 {
	slot := int32(len(x.slots))
	x.slots = append(x.slots, s)
	x.byKey[key] = slot
	if msg != 0 {
		if _, ok := x.byMsg[msg]; !ok {
			x.byMsg[msg] = slot
		}
	}
	return slot
}

// find returns the slot of the call a copy with key and msg is a copy of:
// the same key, or (a /btw replay) the same message.id under another
// requestId where either copy is a sidechain.
func (x *index) find(key [16]byte, msg int64, sidechain bool) (int32, bool) {
	if slot, ok := x.byKey[key]; ok {
		return slot, true
	}
	if msg != 0 {
		if slot, ok := x.byMsg[msg]; ok && (sidechain || x.slots[slot].sidechain) {
			return slot, true
		}
	}
	return 0, false
}

// cand is one copy of a call, ready to be compared and stored.
type cand struct {
	store.Call
	total int64
}

// callKey derives the dedupe key of a record: (message.id, requestId)
// across everything; without requestId, (session, message.id); without
// message.id, the line itself (its file, offset and bytes), so that
// re-reading a file never doubles it. msg is the message.id's hash for
// sidechain replays (0 when the call has no requestId).
func callKey(r *record, session, path string, offset int64, nth int, line []byte) (key [16]byte, msg int64) {
	h := sha256.New()
	switch {
	case r.msgID != "" && r.reqID != "":
		h.Write([]byte("R\x00" + r.msgID + "\x00" + r.reqID))
		m := sha256.Sum256([]byte(r.msgID))
		msg = int64(binary.LittleEndian.Uint64(m[:8]) | 1)
	case r.msgID != "":
		h.Write([]byte("S\x00" + session + "\x00" + r.msgID))
	default:
		lh := sha256.Sum256(line)
		h.Write([]byte("L\x00" + path + "\x00" + strconv.FormatInt(offset, 10) + "\x00" + strconv.Itoa(nth) + "\x00"))
		h.Write(lh[:])
	}
	var sum [32]byte
	copy(key[:], h.Sum(sum[:0]))
	return key, msg
}

// better says whether copy a of a call should replace copy b: a
// non-sidechain copy beats a sidechain one; else the larger token total;
// else the copy from the smaller path, then the smaller offset (ccusage
// keeps the first copy in path order; this makes the choice independent of
// the order files are read in).
func better(a, b survivor, path func(int64) string) bool {
	if a.sidechain != b.sidechain {
		return !a.sidechain
	}
	if a.total != b.total {
		return a.total > b.total
	}
	if a.file != b.file {
		return path(a.file) < path(b.file)
	}
	return a.offset < b.offset
}

func (c *cand) survivor() survivor {
	return survivor{id: c.ID, total: c.total, offset: c.Offset, file: c.FileID, sidechain: c.Sidechain}
}

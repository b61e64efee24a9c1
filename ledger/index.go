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
	total     int64
	offset    int64
	chunk     int32 // where it is stored (chunk ids stay far below 2^31)
	idx       int32
	file      int32
	sidechain bool
}

func (s survivor) loc() store.Loc { return store.Loc{Chunk: int64(s.chunk), Idx: s.idx} }

// index is the writer's in-memory view of every stored call's dedupe key.
// Only the ingest goroutine touches it. Several keys can lead to one call:
// a /btw replay's (message.id, requestId) leads to the call it replays.
type index struct {
	slots slots
	byKey map[[16]byte]int32
	byMsg map[int64]int32 // message.id hash → the first call with that id and a requestId
}

// slots holds survivors in pages, so that growing never copies (or
// doubles) the whole set.
type slots struct {
	pages [][]survivor
	n     int32
}

const pageSize = 4096

func (s *slots) add(v survivor) int32 {
	if int(s.n)%pageSize == 0 {
		s.pages = append(s.pages, make([]survivor, 0, pageSize))
	}
	p := &s.pages[len(s.pages)-1]
	*p = append(*p, v)
	s.n++
	return s.n - 1
}

func (s *slots) at(i int32) *survivor { return &s.pages[i/pageSize][i%pageSize] }

func newIndex() *index {
	return &index{byKey: map[[16]byte]int32{}, byMsg: map[int64]int32{}}
}

// add records a new call under key and returns its slot.
func (x *index) add(key [16]byte, msg int64, s survivor) int32 {
	slot := x.slots.add(s)
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
		if slot, ok := x.byMsg[msg]; ok && (sidechain || x.slots.at(slot).sidechain) {
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

// maxNth bounds the place of a call within its line in orderOf.
const maxNth = 63

// orderOf is the place of the nth call of the line at offset, for the
// order calls were seen in (a line's advisor iterations come after it).
func orderOf(offset int64, nth int) int64 {
	return offset*(maxNth+1) + int64(min(nth, maxNth))
}

// before says whether position (fa, oa) comes before (fb, ob) in the order
// files are read in (path order), then line order.
func before(fa, oa, fb, ob int64, path func(int64) string) bool {
	if fa != fb {
		return path(fa) < path(fb)
	}
	return oa < ob
}

// callKey derives the dedupe key of a record: (message.id, requestId)
// across everything; without requestId, (session, message.id); without
// message.id, the line itself (its file, offset and bytes), so that
// re-reading a file never doubles it. msg is the message.id's hash for
// sidechain replays (0 when the call has no requestId).
func callKey(r *record, session, path string, offset int64, nth int, line []byte) (key [16]byte, msg int64) {
	h := sha256.New()
	switch {
	case len(r.msgID) > 0 && len(r.reqID) > 0:
		h.Write([]byte("R\x00"))
		h.Write(r.msgID)
		h.Write([]byte{0})
		h.Write(r.reqID)
		m := sha256.Sum256(r.msgID)
		msg = int64(binary.LittleEndian.Uint64(m[:8]) | 1)
	case len(r.msgID) > 0:
		h.Write([]byte("S\x00" + session + "\x00"))
		h.Write(r.msgID)
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
		return path(int64(a.file)) < path(int64(b.file))
	}
	return a.offset < b.offset
}

func (c *cand) survivor(at store.Loc) survivor {
	return survivor{total: c.total, offset: c.Offset, chunk: int32(at.Chunk), idx: at.Idx, file: int32(c.FileID), sidechain: c.Sidechain}
}

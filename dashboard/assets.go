package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// The page is three hand-written files: no build step, no library, no
// font; the charts are SVG drawn by app.js.
//
//go:embed assets/index.html assets/app.js assets/app.css
var assets embed.FS

// types are the assets' media types, fixed here rather than read from
// the system's MIME tables.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// files are the embedded assets by URL path, read once.
var files = func() map[string]asset {
	m := map[string]asset{}
	err := fs.WalkDir(assets, "assets", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m["/"+p] = asset{b, types[path.Ext(p)], `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: embedded assets: " + err.Error())
	}
	return m
}()

func serveIndex(w http.ResponseWriter, r *http.Request) { serveFile(w, r, files["/assets/index.html"]) }

func serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := files[r.URL.Path]
	if !ok || strings.HasSuffix(r.URL.Path, ".html") {
		jsonError(w, http.StatusNotFound, "no such asset: "+r.URL.Path)
		return
	}
	serveFile(w, r, a)
}

// serveFile answers with an asset; the browser keeps it and asks again
// with its ETag (a new cco has new assets).
func serveFile(w http.ResponseWriter, r *http.Request, a asset) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}

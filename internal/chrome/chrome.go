// Package chrome drives a headless Chromium over the DevTools protocol,
// for tests of the pages cco serves: load a page, evaluate JavaScript in
// it, collect its console errors, take a screenshot.
package chrome

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/anthropics/cco/internal/tooltest"
)

// Browser is a running headless Chromium.
type Browser struct {
	cmd  *exec.Cmd
	addr string // host:port of its DevTools endpoint
}

// Flags are what every headless start here needs: no sandbox (tests run as
// root), no GPU, and none of the background connections a closed network
// refuses.
var Flags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
	"--disable-sync", "--no-first-run", "--disable-quic", "--disable-default-apps", "--mute-audio",
	"--lang=en-US", "--window-size=1280,800",
}

var listening = regexp.MustCompile(`DevTools listening on ws://([^/]+)/`)

// Start starts Chromium with a fresh profile; it ends with the test. Without
// chromium the test fails in CI and is skipped elsewhere.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin := tooltest.Need(t, "chromium", "chromium")
	args := append(append([]string{}, Flags...), "--user-data-dir="+t.TempDir(),
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--remote-allow-origins=http://127.0.0.1", "about:blank")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	// Its own process group: the renderers and helpers it starts end with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &Browser{cmd: cmd}
	t.Cleanup(b.stop)
	// The endpoint, or "" and what chromium said instead when it ended
	// before naming one.
	type endpoint struct {
		addr string
		said []string
	}
	found := make(chan endpoint, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var said []string
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- endpoint{addr: m[1]}
				for sc.Scan() { // drain: a full pipe would stall the browser
				}
				return
			}
			said = append(said, sc.Text())
		}
		found <- endpoint{said: said}
	}()
	select {
	case e := <-found:
		if e.addr == "" {
			t.Fatalf("chromium ended before opening its DevTools endpoint; it said:\n%s", strings.Join(e.said, "\n"))
		}
		b.addr = e.addr
	case <-time.After(30 * time.Second):
		t.Fatalf("chromium did not open its DevTools endpoint within 30 s")
	}
	return b
}

func (b *Browser) stop() {
	pid := b.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

// Page is one tab.
type Page struct {
	ws     *websocket.Conn
	id     string // its target id
	closer func()

	mu      sync.Mutex
	next    int64
	waiting map[int64]chan reply
	errs    []string // console errors and uncaught exceptions
	closed  error
}

type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

type message struct {
	ID     int64           `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	reply
}

// NewPage opens a tab on about:blank, its runtime and log watched, its
// viewport width×height.
func (b *Browser) NewPage(t testing.TB, width, height int) *Page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://"+b.addr+"/json/new?about:blank", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var target struct{ ID, WebSocketDebuggerURL string }
	if err := json.NewDecoder(resp.Body).Decode(&target); err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("new tab: %v (%s)", err, resp.Status)
	}
	ws, err := websocket.Dial(target.WebSocketDebuggerURL, "", "http://127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ws.MaxPayloadBytes = 64 << 20
	p := &Page{ws: ws, id: target.ID, waiting: map[int64]chan reply{}}
	var once sync.Once
	p.closer = func() {
		once.Do(func() {
			ws.Close()
			if resp, err := http.Get("http://" + b.addr + "/json/close/" + target.ID); err == nil {
				resp.Body.Close()
			}
		})
	}
	t.Cleanup(p.closer)
	go p.read()
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if err := p.Call(m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *Page) read() {
	for {
		var m message
		if err := websocket.JSON.Receive(p.ws, &m); err != nil {
			p.mu.Lock()
			p.closed = err
			for id, c := range p.waiting {
				close(c)
				delete(p.waiting, id)
			}
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		if c, ok := p.waiting[m.ID]; ok && m.ID != 0 {
			delete(p.waiting, m.ID)
			c <- m.reply
		} else {
			p.event(m.Method, m.Params)
		}
		p.mu.Unlock()
	}
}

// event records what a page must not say: console errors and warnings,
// uncaught exceptions, and the browser's own error log (a refused
// resource, a CSP violation).
func (p *Page) event(method string, params json.RawMessage) {
	switch method {
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(params, &e)
		p.errs = append(p.errs, "exception: "+e.ExceptionDetails.Text+" "+e.ExceptionDetails.Exception.Description)
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		_ = json.Unmarshal(params, &e)
		if e.Type == "error" || e.Type == "warning" || e.Type == "assert" {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, fmt.Sprint(a.Value)+a.Description)
			}
			p.errs = append(p.errs, "console."+e.Type+": "+strings.Join(parts, " "))
		}
	case "Log.entryAdded":
		var e struct {
			Entry struct {
				Level, Source, Text, URL string
			} `json:"entry"`
		}
		_ = json.Unmarshal(params, &e)
		if e.Entry.Level == "error" || e.Entry.Level == "warning" {
			p.errs = append(p.errs, "log "+e.Entry.Level+" ("+e.Entry.Source+"): "+e.Entry.Text+" "+e.Entry.URL)
		}
	}
}

// Close closes the tab.
func (p *Page) Close() { p.closer() }

// Errors returns what the page said wrong so far.
func (p *Page) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// Call sends one DevTools command and decodes its result into out (when
// not nil).
func (p *Page) Call(method string, params any, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.mu.Lock()
	if p.closed != nil {
		p.mu.Unlock()
		return p.closed
	}
	p.next++
	id := p.next
	c := make(chan reply, 1)
	p.waiting[id] = c
	p.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	if err := websocket.JSON.Send(p.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return err
	}
	select {
	case r, ok := <-c:
		if !ok {
			return fmt.Errorf("%s: the DevTools connection closed", method)
		}
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: no answer in 30s", method)
	}
}

// Eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its value into out (when not nil).
func (p *Page) Eval(expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.Call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r); err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		return fmt.Errorf("%s: %s %s", expr, e.Text, e.Exception.Description)
	}
	if out != nil {
		if len(r.Result.Value) == 0 {
			return errors.New(expr + ": no value")
		}
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// Navigate loads url in the tab.
func (p *Page) Navigate(url string) error {
	var r struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.Call("Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("navigate %s: %s", url, r.ErrorText)
	}
	return nil
}

// WaitFor evaluates expr until it is true, or fails the test after
// timeout, naming what.
func (p *Page) WaitFor(t testing.TB, what, expr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := p.Eval("Boolean("+expr+")", &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s (%s): err %v; page errors %v", timeout, what, expr, err, p.Errors())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Screenshot writes a PNG of the viewport to path.
func (p *Page) Screenshot(path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := p.Call("Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

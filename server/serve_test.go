package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mitidchip/chip"
	"mitidchip/server/dev"
)

// TestSlowBodyCutOff: a client that sends its headers and then trickles the body, a
// byte at a time more slowly than the read timeout, has its connection closed; it
// gets no success, and the handoff it carried is not spent. The timeout is short so
// the test is quick, but nothing depends on how quick the machine is: the server
// either closes the connection or the test gives up after 10 s.
func TestSlowBodyCutOff(t *testing.T) {
	c, p := productionConfig(t)
	s := newServer(t, c)
	s.Timeouts.Read = 200 * time.Millisecond
	base := serve(t, s)

	tok, _, err := p.Issuer(c, time.Now).Issue("slow-person", "slow.person")
	if err != nil {
		t.Fatal(err)
	}
	body := `{"token":"` + tok + `","request_id":"AAAAAAAAAAAAAAAAAAAAAA"}`
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/handoff HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		host, origin, len(body))
	go func() {
		tick := time.NewTicker(400 * time.Millisecond) // the attack's pace: slower than Read
		defer tick.Stop()
		for i := range len(body) {
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return // closed by the server, or by the test's end
			}
			<-tick.C
		}
	}()

	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(conn)
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		t.Fatalf("expected the server to close a connection trickling its body, it was still open after 10 s (read so far: %q)", answer)
	}
	if bytes.HasPrefix(answer, []byte("HTTP/1.1 2")) {
		t.Fatalf("expected no success for a trickled body, got:\n%s", answer)
	}

	// The link was not spent: the person can still use it (asked of the handler
	// directly, out of reach of the short timeout).
	req := httptest.NewRequest(http.MethodPost, origin+"/api/v1/handoff", strings.NewReader(body))
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("redeeming the trickled link afterwards: expected 200, got %d %s", rec.Code, rec.Body)
	}
}

// TestHeadersBounded: a request whose headers are far larger than any the page sends
// is refused before any handler sees it.
func TestHeadersBounded(t *testing.T) {
	c, _ := productionConfig(t)
	base := serve(t, newServer(t, c))
	req, _ := http.NewRequest(http.MethodGet, base+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB of headers: expected 431, got %d", resp.StatusCode)
	}
}

// TestDevWaitOutlastsWriteTimeout: the dev endpoints that wait for the virtual
// button answer after the server's write timeout has passed, since they extend their
// own deadline. Here the timeout is half a second and the chip waits two for a press
// that does not come: without the extension the answer could not be written.
func TestDevWaitOutlastsWriteTimeout(t *testing.T) {
	c := testConfig(t, true)
	s := newServer(t, c)
	s.Timeouts.Write = 500 * time.Millisecond
	base := serve(t, s)
	vc := c.Dev.(*dev.Mode).Chips.Chip("MC-000001")

	payload, _ := chip.SignRequest{Wait: 2 * time.Second}.Marshal()
	frame, _ := chip.Frame{Type: chip.TypeSign, RequestID: 9, Payload: payload}.Encode()
	signed := make(chan string, 1)
	go func() {
		code, body, err := do(http.MethodPost, base+"/dev/chips/MC-000001/frame", bytes.NewReader(frame))
		if err != nil {
			signed <- err.Error()
			return
		}
		f, err := chip.Decode([]byte(body))
		signed <- fmt.Sprintf("%d %v %v", code, f.Type == chip.TypeNotPressed && f.RequestID == 9, err)
	}()
	for changed := vc.Changed(); !vc.Waiting(); changed = vc.Changed() {
		<-changed
	}
	// While the chip waits, the chip page's long poll waits for it to stop waiting.
	code, view := request(t, http.MethodGet, base+"/dev/chips/MC-000001?after="+vc.Display()+"/true", nil)
	var v struct{ Waiting bool }
	if err := json.Unmarshal([]byte(view), &v); code != http.StatusOK || err != nil || v.Waiting {
		t.Errorf("long poll past the write timeout: expected 200 with the chip no longer waiting, got %d %q", code, view)
	}
	if got := <-signed; got != "200 true <nil>" {
		t.Errorf("sign request past the write timeout: expected 200 with a not-pressed frame, got %s", got)
	}
}

// TestGracefulShutdown: a request in flight when the server is told to stop (here a
// sign request waiting for the virtual chip's button) still gets its answer.
func TestGracefulShutdown(t *testing.T) {
	c := testConfig(t, true)
	s := newServer(t, c)
	ctx, stop := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, "127.0.0.1:0", 10*time.Second, func(a net.Addr) { addr <- a }) }()
	base := "http://" + (<-addr).String()

	vc := c.Dev.(*dev.Mode).Chips.Chip("MC-000001")
	payload, _ := chip.SignRequest{Wait: 5 * time.Second}.Marshal()
	req, _ := chip.Frame{Type: chip.TypeSign, RequestID: 1, Payload: payload}.Encode()
	answer := make(chan int, 1)
	go func() {
		code, body, err := do(http.MethodPost, base+"/dev/chips/MC-000001/frame", bytes.NewReader(req))
		if err != nil {
			answer <- 0
			return
		}
		if f, err := chip.Decode([]byte(body)); err != nil || f.Type != chip.TypeSignature {
			answer <- -1
			return
		}
		answer <- code
	}()
	for !vc.Waiting() {
		<-vc.Changed()
	}
	stop() // SIGTERM's equivalent: the request above is in flight
	// Press only once the server has stopped taking new connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections 10s after shutdown began")
		}
		time.Sleep(5 * time.Millisecond) // polling a socket state; no event to wait on
	}
	vc.Press()
	if code := <-answer; code != http.StatusOK {
		t.Fatalf("request in flight at shutdown got %d, want 200 with a signature", code)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
}

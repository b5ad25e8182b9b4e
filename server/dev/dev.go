// Package dev is the server's development mode: demo keys, a demo manufacturer, demo
// chips that live in the server as virtual chips, and the endpoints the local demo
// and the browser tests use to hold and press them. None of it runs in production.
package dev

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	"mitidchip/chip"
	"mitidchip/chip/manufacturer"
	"mitidchip/chip/virtual"
	"mitidchip/server"
	"mitidchip/server/handoff"
)

// Demo identity and chips made on first start.
const (
	DemoPerson   = "demo-person-1"
	DemoUserID   = "demo.borger"
	Manufacturer = server.DevManufacturer
	chipPrefix   = "MC"
	demoChips    = 5
)

// Files in the data folder that dev mode creates once and reuses. The server knows
// them too (server.DevFolder, server.DevHandoffKeyFile): a production start refuses a
// folder that holds them.
const (
	HandoffKeyFile = server.DevHandoffKeyFile // the app backend's key: dev only
	caFile         = server.DevFolder + "/manufacturer-ca.pem"
	chipsFile      = server.DevFolder + "/chips.json"
	DeliveryFile   = server.DevFolder + "/delivery.jsonl"
)

// How long past its own wait a dev request that waits for the chip may take to be
// answered. Such requests set their own write deadline: the server's WriteTimeout is
// shorter than a sign request's longest wait (chip.MaxSignWait).
const answerMargin = 15 * time.Second

// Files returns where the dev CA certificate and delivery file are, for the server to
// trust and import.
type Files struct {
	RootsPEM     []byte // the dev manufacturer CA certificate
	DeliveryPath string
}

// EnsureHandoffKey returns the dev app-backend key, creating it on first use.
func EnsureHandoffKey(dataDir string, rand io.Reader) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, HandoffKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		return handoff.ParsePrivateKeyPEM(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	_, priv, err := handoff.GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	b, err := handoff.EncodePrivateKeyPEM(priv)
	if err != nil {
		return nil, err
	}
	return priv, WriteFile(path, b)
}

// EnsureChips returns the demo chips, minting a CA and a batch on first use.
func EnsureChips(dataDir string, rand io.Reader, now time.Time) ([]manufacturer.Chip, Files, error) {
	caPath, chipsPath := filepath.Join(dataDir, caFile), filepath.Join(dataDir, chipsFile)
	files := Files{DeliveryPath: filepath.Join(dataDir, DeliveryFile)}
	if b, err := os.ReadFile(caPath); err == nil {
		ca, err := manufacturer.ParseCA(b)
		if err != nil {
			return nil, files, err
		}
		f, err := os.Open(chipsPath)
		if err != nil {
			return nil, files, err
		}
		defer f.Close()
		chips, err := manufacturer.ReadChips(f)
		files.RootsPEM = ca.CertPEM()
		return chips, files, err
	}
	ca, err := manufacturer.NewCA(Manufacturer, rand, now)
	if err != nil {
		return nil, files, err
	}
	chips, err := ca.Batch(chipPrefix, demoChips, rand, now)
	if err != nil {
		return nil, files, err
	}
	caPEM, err := ca.EncodePEM()
	if err != nil {
		return nil, files, err
	}
	var chipsJSON, delivery bytes.Buffer
	if err := manufacturer.WriteChips(&chipsJSON, chips); err != nil {
		return nil, files, err
	}
	if err := manufacturer.WriteDelivery(&delivery, Manufacturer, chips); err != nil {
		return nil, files, err
	}
	// The CA last: its presence is what marks the set complete.
	for _, f := range []struct {
		path string
		b    []byte
	}{{chipsPath, chipsJSON.Bytes()}, {files.DeliveryPath, delivery.Bytes()}, {caPath, caPEM}} {
		if err := WriteFile(f.path, f.b); err != nil {
			return nil, files, err
		}
	}
	files.RootsPEM = ca.CertPEM()
	return chips, files, nil
}

// WriteFile writes b to path (mode 0600, folders 0700) through a temporary file, so
// a crash leaves the old file or the new one, never half of one.
func WriteFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Chips serves the virtual chips over HTTP for the demo page and the dev link.
type Chips struct {
	chips  map[string]*virtual.Chip
	issuer *handoff.Issuer
}

// NewChips makes the virtual chips and the handoff issuer for demo links.
func NewChips(chips []manufacturer.Chip, issuer *handoff.Issuer, now func() time.Time) (*Chips, error) {
	c := &Chips{chips: map[string]*virtual.Chip{}, issuer: issuer}
	for _, m := range chips {
		vc, err := virtual.New(m.Config(now))
		if err != nil {
			return nil, err
		}
		c.chips[m.Serial] = vc
	}
	return c, nil
}

// Chip returns the virtual chip with serial, or nil.
func (c *Chips) Chip(serial string) *virtual.Chip { return c.chips[serial] }

// Link mints a fresh handoff link for a person, as the app would.
func (c *Chips) Link(origin, personID, userID string) (string, error) {
	tok, _, err := c.issuer.Issue(personID, userID)
	if err != nil {
		return "", err
	}
	return origin + "/#t=" + tok, nil
}

// BlockLink mints a fresh block link for a person, as the MitID app does when the
// person chooses to block a lost chip: the page at /block with a token whose purpose
// is blocking (handoff.PurposeBlockChip).
func (c *Chips) BlockLink(origin, personID, userID string) (string, error) {
	tok, _, err := c.issuer.For(handoff.PurposeBlockChip).Issue(personID, userID)
	if err != nil {
		return "", err
	}
	return origin + "/block#t=" + tok, nil
}

// Register adds the dev endpoints to mux. origin is the page's origin
// (scheme://host[:port]); every dev request must be addressed to its host, and every
// POST must come from it (see sameSite).
func (c *Chips) Register(mux *http.ServeMux, origin string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("dev: origin %q is not scheme://host[:port]", origin)
	}
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, sameSite(origin, u.Host, h)) }
	handle("GET /dev/link", func(w http.ResponseWriter, r *http.Request) {
		person, user := r.URL.Query().Get("person"), r.URL.Query().Get("user")
		if person == "" {
			person, user = DemoPerson, DemoUserID
		}
		link, err := c.Link(origin, person, user)
		if err != nil {
			http.Error(w, "cannot mint a handoff link: "+err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, link, http.StatusSeeOther)
	})
	handle("GET /dev/block-link", func(w http.ResponseWriter, r *http.Request) {
		person, user := r.URL.Query().Get("person"), r.URL.Query().Get("user")
		if person == "" {
			person, user = DemoPerson, DemoUserID
		}
		link, err := c.BlockLink(origin, person, user)
		if err != nil {
			http.Error(w, "cannot mint a block link: "+err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, link, http.StatusSeeOther)
	})
	handle("GET /dev/chips", c.list)
	handle("GET /dev/chips/{serial}", c.show)
	handle("POST /dev/chips/{serial}/press", c.press)
	handle("POST /dev/chips/{serial}/frame", c.frame)
	return nil
}

// sameSite refuses a dev request that another site could have made: a POST whose
// Origin is not the page's (any page a developer visits could otherwise press the
// virtual button or talk to the chip), and any request whose Host is not the
// origin's, which is how a DNS-rebound name reaches a dev server on loopback and reads
// the chips' one-time codes or mints links. The refusal logs nothing of the headers.
func sameSite(origin, host string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != host || r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get("Origin") != origin {
			http.Error(w, "dev endpoints answer only the page at "+origin, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// extendWrite lets this request be answered up to d from now, past the server's
// WriteTimeout. Under a ResponseWriter without deadlines (a test recorder) there is
// nothing to extend.
func extendWrite(w http.ResponseWriter, d time.Duration) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
}

type chipView struct {
	Serial  string `json:"serial"`
	Display string `json:"display"`
	Waiting bool   `json:"waiting"`
}

func view(vc *virtual.Chip) chipView {
	return chipView{Serial: vc.Serial(), Display: vc.Display(), Waiting: vc.Waiting()}
}

func (c *Chips) list(w http.ResponseWriter, _ *http.Request) {
	out := make([]chipView, 0, len(c.chips))
	for _, vc := range c.chips {
		out = append(out, view(vc))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Serial < out[j].Serial })
	writeJSON(w, out)
}

func (c *Chips) lookup(w http.ResponseWriter, r *http.Request) *virtual.Chip {
	vc := c.chips[r.PathValue("serial")]
	if vc == nil {
		http.Error(w, "no such virtual chip", http.StatusNotFound)
	}
	return vc
}

// longPoll is how long show waits for a change before it answers anyway.
const longPoll = 25 * time.Second

// show answers the chip's state; with ?after=<display>/<waiting> it waits (up to 25 s)
// until the state differs, so the chip page updates on events, not on a timer.
func (c *Chips) show(w http.ResponseWriter, r *http.Request) {
	vc := c.lookup(w, r)
	if vc == nil {
		return
	}
	if after := r.URL.Query().Get("after"); after != "" {
		extendWrite(w, longPoll+answerMargin)
		ctx, cancel := context.WithTimeout(r.Context(), longPoll)
		defer cancel()
		waitChange(ctx, vc, after)
	}
	writeJSON(w, view(vc))
}

func waitChange(ctx context.Context, vc *virtual.Chip, after string) {
	for {
		changed := vc.Changed() // taken before reading, so no change slips between
		if v := view(vc); fmt.Sprintf("%s/%t", v.Display, v.Waiting) != after {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

func (c *Chips) press(w http.ResponseWriter, r *http.Request) {
	if vc := c.lookup(w, r); vc != nil {
		vc.Press()
		writeJSON(w, view(vc))
	}
}

// frame is the dev link: one request frame in, one response frame out, as if the
// chip were held to the phone.
func (c *Chips) frame(w http.ResponseWriter, r *http.Request) {
	vc := c.lookup(w, r)
	if vc == nil {
		return
	}
	req, err := io.ReadAll(http.MaxBytesReader(w, r.Body, chip.MaxFrame))
	if err != nil {
		http.Error(w, "frame too large", http.StatusRequestEntityTooLarge)
		return
	}
	// The body is read (within the server's ReadTimeout); a sign request now waits for
	// the button for as long as it asked, at most chip.MaxSignWait.
	extendWrite(w, chip.MaxSignWait+answerMargin)
	resp, err := vc.Handle(r.Context(), req)
	if err != nil {
		http.Error(w, "chip went away", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(resp)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

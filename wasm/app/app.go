// Package app is what the browser module does for the page, as plain Go: connect a
// chip, ask it who it is, have it sign the binding, and name every failure with a
// stable code. The JS boundary (wasm/main.go) only converts values.
package app

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"

	"mitidchip/bridge/ble"
	"mitidchip/bridge/dom"
	"mitidchip/bridge/nfc"
	"mitidchip/chip"
	"mitidchip/credential/password"
	"mitidchip/credential/transcript"
	"mitidchip/wasm/session"
)

// Conn is a connected chip: a link the module can close.
type Conn interface {
	chip.Link
	Close() error
}

// Connector opens a link of one kind ("bluetooth", "nfc", "virtual"); serial picks a
// virtual chip.
type Connector func(ctx context.Context, kind, serial string) (Conn, error)

// Reconnector is a Conn that can connect again to the chip the person chose before,
// without asking them to choose it again: a Web Bluetooth device's GATT server.
type Reconnector interface {
	Reconnect(ctx context.Context) error
}

// Errors of the module's own making.
var (
	ErrWrongChip    = errors.New("app: the connected chip is not the one presented")
	ErrNotConnected = errors.New("app: no chip connected")
	ErrBadInput     = errors.New("app: malformed input from the page")
	ErrUnknownKind  = errors.New("app: unknown transport")
	// ErrBluetoothUnavailable: the browser has Web Bluetooth but no adapter to use,
	// so no chooser was shown; the person did not cancel anything.
	ErrBluetoothUnavailable = errors.New("app: no Bluetooth adapter available")
)

// HelloTimeout bounds the hello round trip, and a reconnect; SignSlack is what a
// sign request's context allows beyond the chip's own wait for the answer to travel
// back.
const (
	HelloTimeout = 15 * time.Second
	SignSlack    = 10 * time.Second
)

// App holds the one chip connection a page has at a time.
type App struct {
	connect Connector
	rand    io.Reader

	mu    sync.Mutex
	conn  Conn
	kind  string
	sess  *session.Session
	hello chip.Hello
	// dropped is a link that went down mid-exchange, kept so that the next Connect
	// of the same kind reconnects the chip the person chose instead of asking again.
	dropped     Conn
	droppedKind string
}

// New returns an App that opens links with connect.
func New(connect Connector, rand io.Reader) *App {
	return &App{connect: connect, rand: rand}
}

// Connect opens a link, asks the chip for its hello, and keeps the link for Sign. It
// returns the hello and its payload exactly as the chip framed it, for the server.
// After a link of the same kind dropped, it reconnects that chip instead; if that
// fails, the link is forgotten and the next Connect opens a new one.
func (a *App) Connect(ctx context.Context, kind, serial string) (chip.Hello, []byte, error) {
	a.mu.Lock()
	dropped, droppedKind := a.dropped, a.droppedKind
	a.dropped = nil
	a.mu.Unlock()
	a.Disconnect()
	var conn Conn
	if r, ok := dropped.(Reconnector); ok && droppedKind == kind {
		rctx, cancel := context.WithTimeout(ctx, HelloTimeout)
		err := r.Reconnect(rctx)
		cancel()
		if err != nil {
			dropped.Close()
			return chip.Hello{}, nil, err
		}
		conn = dropped
	} else {
		if dropped != nil {
			dropped.Close()
		}
		var err error
		if conn, err = a.connect(ctx, kind, serial); err != nil {
			return chip.Hello{}, nil, err
		}
	}
	var id [2]byte
	if _, err := io.ReadFull(a.rand, id[:]); err != nil {
		conn.Close()
		return chip.Hello{}, nil, err
	}
	sess := session.New(conn, binary.BigEndian.Uint16(id[:]))
	hctx, cancel := context.WithTimeout(ctx, HelloTimeout)
	defer cancel()
	h, err := sess.Hello(hctx)
	if err != nil {
		a.drop(conn, kind, err)
		return chip.Hello{}, nil, err
	}
	payload, err := h.Marshal()
	if err != nil {
		conn.Close()
		return chip.Hello{}, nil, err
	}
	a.mu.Lock()
	a.conn, a.kind, a.sess, a.hello = conn, kind, sess, h
	a.mu.Unlock()
	return h, payload, nil
}

// drop handles a link whose exchange failed with err: one that went down and can
// reconnect is kept for the next Connect, any other is closed.
func (a *App) drop(conn Conn, kind string, err error) {
	if _, ok := conn.(Reconnector); !ok || !errors.Is(err, chip.ErrDisconnected) {
		conn.Close()
		return
	}
	a.mu.Lock()
	old := a.dropped
	a.dropped, a.droppedKind = conn, kind
	a.mu.Unlock()
	if old != nil && old != conn {
		old.Close()
	}
}

// Sign builds the binding transcript and has the connected chip sign its hash once
// the button is pressed, waiting up to wait.
func (a *App) Sign(ctx context.Context, b transcript.Binding, wait time.Duration) ([]byte, error) {
	return a.sign(ctx, b.ChipSerial, b.ChipPublicKey, b.Hash, wait)
}

// SignLogon fills the connected chip's serial and public key into the logon
// transcript l (the server gave the rest) and has the chip sign its hash once the
// button is pressed, waiting up to wait.
func (a *App) SignLogon(ctx context.Context, l transcript.Logon, wait time.Duration) ([]byte, error) {
	a.mu.Lock()
	h := a.hello
	a.mu.Unlock()
	l.ChipSerial, l.ChipPublicKey = h.Serial, h.PublicKey
	return a.sign(ctx, l.ChipSerial, l.ChipPublicKey, l.Hash, wait)
}

// sign has the connected chip, which must be the one named, sign the transcript hash
// gives, once the button is pressed.
func (a *App) sign(ctx context.Context, serial string, publicKey []byte, hashOf func() ([32]byte, error), wait time.Duration) ([]byte, error) {
	a.mu.Lock()
	conn, kind, sess, h := a.conn, a.kind, a.sess, a.hello
	a.mu.Unlock()
	if sess == nil {
		return nil, ErrNotConnected
	}
	if serial != h.Serial || string(publicKey) != string(h.PublicKey) {
		return nil, ErrWrongChip
	}
	hash, err := hashOf()
	if err != nil {
		return nil, errors.Join(ErrBadInput, err)
	}
	sctx, cancel := context.WithTimeout(ctx, wait+SignSlack)
	defer cancel()
	sig, err := sess.Sign(sctx, chip.SignRequest{Hash: hash, Wait: wait})
	if errors.Is(err, chip.ErrDisconnected) {
		if _, ok := conn.(Reconnector); ok {
			a.mu.Lock()
			mine := a.conn == conn
			if mine {
				a.conn, a.kind, a.sess, a.hello = nil, "", nil, chip.Hello{}
			}
			a.mu.Unlock()
			if mine {
				a.drop(conn, kind, err)
			}
		}
	}
	return sig, err
}

// Disconnect closes the link, and a dropped one kept for reconnecting, if any.
func (a *App) Disconnect() {
	a.mu.Lock()
	conn, dropped := a.conn, a.dropped
	a.conn, a.kind, a.sess, a.hello = nil, "", nil, chip.Hello{}
	a.dropped, a.droppedKind = nil, ""
	a.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	if dropped != nil && dropped != conn {
		dropped.Close()
	}
}

// PasswordCheck is what the page shows while a person types.
type PasswordCheck struct {
	Reasons  []string
	Strength int
}

// CheckPassword runs the password rules and the strength estimate.
func CheckPassword(pw, userID string) PasswordCheck {
	rs := password.Check(pw, userID)
	out := PasswordCheck{Reasons: make([]string, len(rs)), Strength: password.Strength(pw, userID)}
	for i, r := range rs {
		out.Reasons[i] = string(r)
	}
	return out
}

// Code names an error with the stable code the page maps to words (docs/module-api.md).
func Code(err error) string {
	var chipErr *chip.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, password.ErrMismatch):
		return "mismatch"
	case errors.Is(err, session.ErrNotPressed):
		return "not_pressed"
	case errors.Is(err, ErrWrongChip):
		return "wrong_chip"
	case errors.Is(err, ErrBadInput), errors.Is(err, ErrUnknownKind), errors.Is(err, ErrNotConnected):
		return "bad_input"
	case errors.Is(err, ErrBluetoothUnavailable): // before NotFoundError, which it carries
		return "bluetooth_unavailable"
	case errors.Is(err, ble.ErrNoService): // before NotFoundError, which it may carry
		return "not_a_chip"
	case errors.Is(err, dom.ErrNotFound):
		return "cancelled"
	case errors.Is(err, dom.ErrNotAllowed), errors.Is(err, dom.ErrSecurity):
		return "not_allowed"
	case errors.Is(err, dom.ErrNotReadable): // NFC is there but switched off
		return "nfc_off"
	case errors.Is(err, dom.ErrNotSupported):
		return "not_supported"
	case errors.Is(err, nfc.ErrRead):
		return "nfc_read_error"
	case errors.Is(err, chip.ErrDisconnected), errors.Is(err, dom.ErrNetwork):
		return "disconnected"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, dom.ErrTimeout), errors.Is(err, dom.ErrAbort):
		return "timeout"
	case errors.As(err, &chipErr) && chipErr.Code == chip.CodeBusy:
		return "chip_busy"
	case errors.As(err, &chipErr), errors.Is(err, session.ErrUnexpected), errors.Is(err, chip.ErrMessage),
		errors.Is(err, chip.ErrChecksum), errors.Is(err, chip.ErrTruncated), errors.Is(err, chip.ErrVersion),
		errors.Is(err, chip.ErrTrailing), errors.Is(err, chip.ErrUnknownType), errors.Is(err, chip.ErrOversized),
		errors.Is(err, chip.ErrChunkLost), errors.Is(err, chip.ErrChunkDuplicate), errors.Is(err, chip.ErrChunkMalformed):
		return "chip_error"
	}
	return "internal"
}

//go:build js && wasm

// Command wasm is the browser module: it sets globalThis.mitid (docs/module-api.md)
// and dispatches "mitid-ready". Every function returns a Promise and does its work on
// a goroutine, so the page's thread never waits; a panic rejects the Promise with the
// code "internal" instead of killing the module.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/hack-pad/safejs"

	"mitidchip/bridge/ble"
	"mitidchip/bridge/devlink"
	"mitidchip/bridge/dom"
	"mitidchip/bridge/nfc"
	"mitidchip/chip"
	"mitidchip/credential/kdf"
	"mitidchip/credential/password"
	"mitidchip/credential/transcript"
	"mitidchip/wasm/app"
)

func main() {
	a := app.New(connect, rand.Reader)
	api := map[string]func(args []safejs.Value) (any, error){
		"checkPassword": func(args []safejs.Value) (any, error) {
			pw, user := str(args, 0), str(args, 1)
			c := app.CheckPassword(pw, user)
			reasons := make([]any, len(c.Reasons))
			for i, r := range c.Reasons {
				reasons[i] = r
			}
			return map[string]any{"reasons": reasons, "strength": c.Strength}, nil
		},
		"checkRepeat": func(args []safejs.Value) (any, error) {
			if err := password.CheckRepeat(str(args, 0), str(args, 1)); err != nil {
				return nil, err
			}
			return true, nil
		},
		"transports": func([]safejs.Value) (any, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			bt, _ := ble.Available(ctx)
			return map[string]any{"bluetooth": bt, "bluetoothPresent": bluetoothPresent(), "nfc": nfc.Available()}, nil
		},
		"connect": func(args []safejs.Value) (any, error) {
			h, payload, err := a.Connect(context.Background(), str(args, 0), str(args, 1))
			if err != nil {
				return nil, err
			}
			return map[string]any{"serial": h.Serial, "firmware": h.Firmware, "hello": b64(payload)}, nil
		},
		"sign": func(args []safejs.Value) (any, error) {
			b, err := binding(arg(args, 0))
			if err != nil {
				return nil, err
			}
			wait, err := signWait(arg(args, 1))
			if err != nil {
				return nil, err
			}
			sig, err := a.Sign(context.Background(), b, wait)
			if err != nil {
				return nil, err
			}
			return map[string]any{"signature": b64(sig)}, nil
		},
		"signLogon": func(args []safejs.Value) (any, error) {
			l, err := logonTranscript(arg(args, 0))
			if err != nil {
				return nil, err
			}
			wait, err := signWait(arg(args, 1))
			if err != nil {
				return nil, err
			}
			sig, err := a.SignLogon(context.Background(), l, wait)
			if err != nil {
				return nil, err
			}
			return map[string]any{"signature": b64(sig)}, nil
		},
		// proveLogon derives the password key and signs the server's challenge with
		// it; only the proof leaves (the worker runs it, then ends).
		"proveLogon": func(args []safejs.Value) (any, error) {
			salt, err := unb64(str(args, 1))
			if err != nil {
				return nil, err
			}
			challenge, err := unb64(str(args, 5))
			if err != nil {
				return nil, err
			}
			p := kdf.Params{Time: uint32(num(args, 2)), MemoryKiB: uint32(num(args, 3)), Threads: uint8(num(args, 4))}
			priv, err := kdf.Derive(str(args, 0), salt, p)
			if err != nil {
				return nil, errors.Join(app.ErrBadInput, err)
			}
			proof := kdf.Prove(priv, challenge)
			clear(priv)
			return map[string]any{"proof": b64(proof)}, nil
		},
		"disconnect": func([]safejs.Value) (any, error) {
			a.Disconnect()
			return true, nil
		},
		"deriveVerifier": func(args []safejs.Value) (any, error) {
			salt, err := unb64(str(args, 1))
			if err != nil {
				return nil, err
			}
			p := kdf.Params{Time: uint32(num(args, 2)), MemoryKiB: uint32(num(args, 3)), Threads: uint8(num(args, 4))}
			priv, err := kdf.Derive(str(args, 0), salt, p)
			if err != nil {
				return nil, errors.Join(app.ErrBadInput, err)
			}
			return map[string]any{"verifier": b64(kdf.Verifier(priv))}, nil
		},
	}
	obj, err := safejs.ValueOf(map[string]any{})
	if err != nil {
		panic(err)
	}
	for name, fn := range api {
		f, err := promiseFunc(fn)
		if err != nil {
			panic(err)
		}
		if err := obj.Set(name, f); err != nil {
			panic(err)
		}
	}
	global := safejs.Global()
	if err := global.Set("mitid", obj); err != nil {
		panic(err)
	}
	dispatchReady()
	select {} // the module lives as long as the page
}

// connect opens the link of the chosen kind. It runs on the goroutine the click's
// call started, before anything else awaits, so the chooser keeps the click's user
// activation.
func connect(ctx context.Context, kind, serial string) (app.Conn, error) {
	switch kind {
	case "bluetooth":
		c, err := ble.Connect(ctx)
		if err != nil {
			// Chromium rejects with NotFoundError both when the person closes the
			// chooser and when there is no adapter to show one with; only the
			// second leaves getAvailability() false.
			if errors.Is(err, dom.ErrNotFound) {
				if ok, _ := ble.Available(ctx); !ok {
					err = errors.Join(app.ErrBluetoothUnavailable, err)
				}
			}
			return nil, err
		}
		return c, nil
	case "nfc":
		return nfc.Open(ctx)
	case "virtual":
		if !chip.ValidSerial(serial) {
			return nil, app.ErrBadInput
		}
		return devConn{devlink.New("/dev/chips/" + serial + "/frame")}, nil
	}
	return nil, app.ErrUnknownKind
}

// devConn is the dev link; over HTTP there is nothing to close.
type devConn struct{ *devlink.Link }

func (devConn) Close() error { return nil }

// promiseFunc wraps fn as a JS function returning a Promise settled by fn's result on
// a goroutine of its own.
func promiseFunc(fn func(args []safejs.Value) (any, error)) (safejs.Func, error) {
	return safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		promise, resolve, reject, err := newPromise()
		if err != nil {
			return nil
		}
		go func() {
			defer func() {
				if r := recover(); r != nil {
					reject(jsError("internal", "panic in the module"))
				}
			}()
			v, err := fn(args)
			if err != nil {
				reject(jsError(app.Code(err), err.Error()))
				return
			}
			resolve(v)
		}()
		return promise
	})
}

func jsError(code, msg string) any {
	ctor, err := safejs.Global().Get("Error")
	if err != nil {
		return code
	}
	e, err := ctor.New(msg)
	if err != nil {
		return code
	}
	_ = e.Set("code", code)
	return e
}

func arg(args []safejs.Value, i int) safejs.Value {
	if i < len(args) {
		return args[i]
	}
	return safejs.Undefined()
}

func str(args []safejs.Value, i int) string {
	v := arg(args, i)
	if v.Type() != safejs.TypeString {
		return ""
	}
	s, _ := v.String()
	return s
}

func num(args []safejs.Value, i int) int {
	v := arg(args, i)
	if v.Type() != safejs.TypeNumber {
		return 0
	}
	n, _ := v.Int()
	return n
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.Join(app.ErrBadInput, err)
	}
	return b, nil
}

// logonTranscript reads the server's logon transcript object (without the chip's
// fields, which the connected chip gives) from the page.
func logonTranscript(v safejs.Value) (transcript.Logon, error) {
	if v.Type() != safejs.TypeObject {
		return transcript.Logon{}, app.ErrBadInput
	}
	field := func(name string) string {
		f, err := v.Get(name)
		if err != nil || f.Type() != safejs.TypeString {
			return ""
		}
		s, _ := f.String()
		return s
	}
	challenge, err1 := unb64(field("challenge"))
	nonce, err2 := unb64(field("nonce"))
	if err := errors.Join(err1, err2); err != nil {
		return transcript.Logon{}, err
	}
	return transcript.Logon{ChallengeID: field("challenge_id"), Challenge: challenge, UserID: field("user_id"),
		Origin: field("origin"), Purpose: field("purpose"), Nonce: nonce}, nil
}

// binding reads the server's binding object (plus activation_id) from the page.
func binding(v safejs.Value) (transcript.Binding, error) {
	if v.Type() != safejs.TypeObject {
		return transcript.Binding{}, app.ErrBadInput
	}
	field := func(name string) string {
		f, err := v.Get(name)
		if err != nil || f.Type() != safejs.TypeString {
			return ""
		}
		s, _ := f.String()
		return s
	}
	var b transcript.Binding
	var errs []error
	dec := func(name string) []byte {
		x, err := unb64(field(name))
		errs = append(errs, err)
		return x
	}
	b.ActivationID, b.UserID, b.ChipSerial = field("activation_id"), field("user_id"), field("chip_serial")
	b.ChipPublicKey, b.PasswordVerifier, b.Nonce = dec("chip_public_key"), dec("password_verifier"), dec("nonce")
	if err := errors.Join(errs...); err != nil {
		return transcript.Binding{}, err
	}
	return b, nil
}

// signWait reads how long the chip may wait for its button, in milliseconds, as the
// page passes it to sign and signLogon: within (0, chip.MaxSignWait].
func signWait(v safejs.Value) (time.Duration, error) {
	ms, err := v.Int()
	if err != nil || ms <= 0 || time.Duration(ms)*time.Millisecond > chip.MaxSignWait {
		return 0, app.ErrBadInput
	}
	return time.Duration(ms) * time.Millisecond, nil
}

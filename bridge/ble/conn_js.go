//go:build js && wasm

package ble

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hack-pad/safejs"

	"mitidchip/bridge/dom"
	"mitidchip/chip"
)

// Available reports whether Bluetooth can be offered: the browser has Web Bluetooth
// and reports an adapter. false with a nil error means "offer NFC or another way".
func Available(ctx context.Context) (bool, error) {
	bt, err := bluetooth()
	if err != nil {
		return false, nil
	}
	if !dom.IsFunction(bt, "getAvailability") {
		return true, nil // older browsers: requestDevice will tell
	}
	v, err := dom.AwaitCall(ctx, bt, "getAvailability")
	if err != nil {
		return false, fmt.Errorf("ble: checking for a Bluetooth adapter: %w", err)
	}
	return v.Truthy()
}

func bluetooth() (safejs.Value, error) {
	bt, err := dom.Get(safejs.Global(), "navigator", "bluetooth")
	if err != nil || bt.Type() != safejs.TypeObject || !dom.IsFunction(bt, "requestDevice") {
		return safejs.Undefined(), &dom.Error{Name: "NotSupportedError", Message: "this browser has no Web Bluetooth"}
	}
	return bt, nil
}

// Conn is a connected chip: a Link whose Port is the chip's request characteristic,
// fed by notifications of its response characteristic.
type Conn struct {
	link         *Link
	device, gatt safejs.Value
	dropDevice   func() // removes the gattserverdisconnected listener

	mu          sync.Mutex
	request     safejs.Value // the request characteristic of the current GATT connection
	dropSession func()       // removes the notification listener of that connection
	closed      bool
}

// Connect lets the person choose their chip and connects to it. It must run on a
// goroutine started by a click handler: requestDevice needs the click's user
// activation, so it is called before anything is awaited, in the same JavaScript
// task. Every error path disconnects and removes what was set up.
func Connect(ctx context.Context, opts ...Option) (*Conn, error) {
	bt, err := bluetooth()
	if err != nil {
		return nil, fmt.Errorf("ble: %w", err)
	}
	filters := []any{map[string]any{"services": []any{chip.ServiceUUID}}}
	p, err := dom.Call(bt, "requestDevice", map[string]any{"filters": filters})
	if err != nil {
		return nil, fmt.Errorf("ble: choosing a chip: %w", err)
	}
	device, err := dom.Await(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("ble: choosing a chip: %w", err)
	}
	gatt, err := dom.Get(device, "gatt")
	if err != nil || gatt.Type() != safejs.TypeObject {
		return nil, fmt.Errorf("ble: chosen device has no GATT server: %w", ErrNoService)
	}
	c := &Conn{device: device, gatt: gatt, dropSession: func() {}}
	c.link = New(port{c}, opts...)
	c.dropDevice, err = dom.Listen(device, "gattserverdisconnected", func(safejs.Value) { c.link.Disconnected() })
	if err != nil {
		return nil, fmt.Errorf("ble: watching for disconnects: %w", err)
	}
	if err := c.open(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// open connects the GATT server and subscribes to responses. On error it leaves
// the device disconnected and no notification listener behind.
func (c *Conn) open(ctx context.Context) (err error) {
	var notify safejs.Value
	drop := func() {}
	defer func() {
		if err != nil {
			drop()
			_, _ = dom.Call(c.gatt, "disconnect")
		}
	}()
	server, err := dom.AwaitCall(ctx, c.gatt, "connect")
	if err != nil {
		return fmt.Errorf("ble: connecting to the chip: %w", err)
	}
	service, err := dom.AwaitCall(ctx, server, "getPrimaryService", chip.ServiceUUID)
	if err != nil {
		return missing("chip service", err)
	}
	request, err := dom.AwaitCall(ctx, service, "getCharacteristic", chip.RequestCharacteristic)
	if err != nil {
		return missing("request characteristic", err)
	}
	notify, err = dom.AwaitCall(ctx, service, "getCharacteristic", chip.ResponseCharacteristic)
	if err != nil {
		return missing("response characteristic", err)
	}
	// The listener goes on before notifications start, or the first chunk of an
	// answer could arrive with nobody listening.
	drop, err = dom.Listen(notify, "characteristicvaluechanged", func(safejs.Value) {
		c.link.Notify(notificationValue(notify))
	})
	if err != nil {
		drop = func() {}
		return fmt.Errorf("ble: listening for responses: %w", err)
	}
	if _, err := dom.AwaitCall(ctx, notify, "startNotifications"); err != nil {
		return fmt.Errorf("ble: starting notifications: %w", err)
	}
	// The device may have dropped while we were setting up.
	if ok, _ := connected(c.gatt); !ok {
		return fmt.Errorf("ble: chip dropped the connection while connecting: %w", chip.ErrDisconnected)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.request, c.dropSession = request, drop
	c.link.Reconnected()
	return nil
}

// missing names the GATT part that could not be had. NotFoundError there means the
// device is not our chip; anything else (NetworkError, say) is a plain failure.
func missing(what string, err error) error {
	if errors.Is(err, dom.ErrNotFound) {
		return fmt.Errorf("ble: %s: %w: %w", what, ErrNoService, err)
	}
	if errors.Is(err, dom.ErrNetwork) {
		return fmt.Errorf("ble: %s: %w: %w", what, chip.ErrDisconnected, err)
	}
	return fmt.Errorf("ble: %s: %w", what, err)
}

func connected(gatt safejs.Value) (bool, error) {
	v, err := dom.Get(gatt, "connected")
	if err != nil {
		return false, err
	}
	return v.Truthy()
}

// notificationValue reads the characteristic's value (a DataView). An unreadable or
// oversized value comes back as nil, which the Link reports as a malformed chunk.
func notificationValue(ch safejs.Value) []byte {
	v, err := dom.Get(ch, "value")
	if err != nil {
		return nil
	}
	b, err := dom.Bytes(v, chip.ChunkSize)
	if err != nil {
		return nil
	}
	return b
}

// RoundTrip sends one request frame and returns the response frame (chip.Link).
func (c *Conn) RoundTrip(ctx context.Context, request []byte) ([]byte, error) {
	return c.link.RoundTrip(ctx, request)
}

// Reconnect connects the GATT server of the chip chosen before, without the
// chooser, after a disconnect. It needs no user gesture.
func (c *Conn) Reconnect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	drop := c.dropSession
	c.dropSession = func() {}
	c.mu.Unlock()
	drop()
	return c.open(ctx)
}

// Close fails any pending request, removes the listeners and disconnects.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	drop := c.dropSession
	c.mu.Unlock()
	c.link.Close()
	drop()
	if c.dropDevice != nil {
		c.dropDevice()
	}
	if _, err := dom.Call(c.gatt, "disconnect"); err != nil {
		return fmt.Errorf("ble: disconnecting: %w", err)
	}
	return nil
}

// port writes to the request characteristic of the Conn's current GATT connection.
type port struct{ c *Conn }

func (p port) Write(ctx context.Context, chunk []byte) error {
	p.c.mu.Lock()
	request := p.c.request
	p.c.mu.Unlock()
	data, err := dom.Uint8Array(chunk)
	if err != nil {
		return err
	}
	_, err = dom.AwaitCall(ctx, request, "writeValueWithResponse", data)
	return err
}

//go:build js && wasm

package ble_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mitidchip/bridge/ble"
	"mitidchip/bridge/dom"
	"mitidchip/bridge/internal/jstest"
	"mitidchip/chip"
)

// fakeBluetooth installs navigator.bluetooth with one chip behind it. The chip
// reassembles written chunks and answers each request frame with fake.answer(frame)
// (by default: the request with its type turned into a response), notified in
// chunks on later tasks, as a browser would. fake.log records every call in order;
// fake.gesture is true only inside fake.click(), like a transient user activation.
const fakeBluetooth = `
(() => {
  const uuids = {service: %q, request: %q, response: %q};
  const fake = {log: [], listeners: 0, options: null,
    available: true, chooser: null, missing: null, startError: null, dropOnWrite: false,
    answer: req => { const r = req.slice(); r[1] |= 0x80; return r; }};
  const counted = t => {
    const add = t.addEventListener.bind(t), rm = t.removeEventListener.bind(t);
    t.addEventListener = (type, f) => { fake.log.push("listen " + type); fake.listeners++; add(type, f); };
    t.removeEventListener = (type, f) => { fake.log.push("unlisten " + type); fake.listeners--; rm(type, f); };
    return t;
  };
  const device = counted(new EventTarget());
  const response = counted(new EventTarget());
  const request = {};
  let parts = [];
  const notify = bytes => {
    const n = Math.ceil(bytes.length / 18);
    for (let i = 0; i < n; i++) {
      const c = new Uint8Array([i, n, ...bytes.slice(i * 18, (i + 1) * 18)]);
      setTimeout(() => { response.value = new DataView(c.buffer); response.dispatchEvent(new Event("characteristicvaluechanged")); }, 0);
    }
  };
  request.writeValueWithResponse = async data => {
    fake.log.push("write");
    if (!fake.gatt.connected) throw new DOMException("GATT Server is disconnected. Cannot perform GATT operations.", "NetworkError");
    const c = new Uint8Array(data);
    parts.push(...c.slice(2));
    if (c[0] === c[1] - 1) {
      const req = new Uint8Array(parts); parts = [];
      if (fake.dropOnWrite) { setTimeout(() => fake.gatt.disconnect(), 0); return; }
      notify(fake.answer(req));
    }
  };
  response.startNotifications = async () => {
    fake.log.push("startNotifications");
    if (fake.startError) throw new DOMException(fake.startError, "NotSupportedError");
    return response;
  };
  const service = {
    getCharacteristic: async uuid => {
      fake.log.push("getCharacteristic " + uuid);
      if (fake.missing === uuid) throw new DOMException("No Characteristics matching UUID " + uuid + " found in Service.", "NotFoundError");
      return uuid === uuids.request ? request : uuid === uuids.response ? response : Promise.reject(new Error("unknown"));
    },
  };
  fake.gatt = {
    connected: false,
    connect: async () => { fake.log.push("connect"); fake.gatt.connected = true; return fake.gatt; },
    disconnect: () => {
      fake.log.push("disconnect");
      if (!fake.gatt.connected) return;
      fake.gatt.connected = false;
      device.dispatchEvent(new Event("gattserverdisconnected"));
    },
    getPrimaryService: async uuid => {
      fake.log.push("getPrimaryService " + uuid);
      if (fake.missing === uuid) throw new DOMException("No Services matching UUID " + uuid + " found in Device.", "NotFoundError");
      return service;
    },
  };
  device.gatt = fake.gatt;
  globalThis.navigator = {bluetooth: {
    getAvailability: async () => fake.available,
    requestDevice: options => {
      fake.log.push("requestDevice");
      fake.options = JSON.stringify(options);
      if (!globalThis.userActivation) return Promise.reject(new DOMException("Must be handling a user gesture to show a permission request.", "SecurityError"));
      if (fake.chooser) return Promise.reject(new DOMException(fake.chooser, "NotFoundError"));
      return Promise.resolve(device);
    },
  }};
  globalThis.fake = fake;
})()
`

func install(t *testing.T) {
	t.Helper()
	src := strings.Replace(fakeBluetooth, "%q, request: %q, response: %q",
		`"`+chip.ServiceUUID+`", request: "`+chip.RequestCharacteristic+`", response: "`+chip.ResponseCharacteristic+`"`, 1)
	jstest.Eval(t, src)
	t.Cleanup(func() { jstest.Eval(t, `delete globalThis.navigator; delete globalThis.fake`) })
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type connected struct {
	conn *ble.Conn
	err  error
}

// click connects the way the page does: a click handler that starts a goroutine
// and returns at once.
func click(t *testing.T, ctx context.Context) (*ble.Conn, error) {
	t.Helper()
	done := make(chan connected, 1)
	jstest.Gesture(t, func() {
		c, err := ble.Connect(ctx)
		done <- connected{c, err}
	})
	r := <-done
	return r.conn, r.err
}

func log(t *testing.T) string { return jstest.String(t, `fake.log.join("\n")`) }

func helloFrame(t *testing.T, id uint16, n int) []byte {
	b, err := chip.Frame{Type: chip.TypeHello, RequestID: id, Payload: bytes.Repeat([]byte{0xa5}, n)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAvailable(t *testing.T) {
	tests := []struct {
		name  string
		setup string
		want  bool
	}{
		{"no navigator", `delete globalThis.navigator`, false},
		{"no bluetooth", `globalThis.navigator = {}`, false},
		{"adapter present", ``, true},
		{"adapter off", `fake.available = false`, false},
		{"no getAvailability", `delete navigator.bluetooth.getAvailability`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			install(t)
			jstest.Eval(t, tc.setup)
			got, err := ble.Available(testCtx(t))
			if err != nil || got != tc.want {
				t.Errorf("expected %v, got %v (error %v)", tc.want, got, err)
			}
		})
	}
}

func TestConnectAndRoundTrip(t *testing.T) {
	install(t)
	ctx := testCtx(t)
	c, err := click(t, ctx)
	if err != nil {
		t.Fatalf("expected a connection, got %v\n%s", err, log(t))
	}
	defer c.Close()
	want := `{"filters":[{"services":["` + chip.ServiceUUID + `"]}]}`
	if got := jstest.String(t, `fake.options`); got != want {
		t.Errorf("requestDevice options: expected %s, got %s", want, got)
	}
	wantLog := strings.Join([]string{
		"requestDevice",
		"listen gattserverdisconnected",
		"connect",
		"getPrimaryService " + chip.ServiceUUID,
		"getCharacteristic " + chip.RequestCharacteristic,
		"getCharacteristic " + chip.ResponseCharacteristic,
		"listen characteristicvaluechanged",
		"startNotifications",
	}, "\n")
	if got := log(t); got != wantLog {
		t.Errorf("calls: expected\n%s\ngot\n%s", wantLog, got)
	}

	req := helloFrame(t, 42, 100) // 110 bytes: 7 chunks each way
	rsp, err := c.RoundTrip(ctx, req)
	if err != nil {
		t.Fatalf("expected a response, got %v", err)
	}
	wantRsp := append([]byte(nil), req...)
	wantRsp[1] |= 0x80
	if !bytes.Equal(rsp, wantRsp) {
		t.Errorf("response: expected % x, got % x", wantRsp, rsp)
	}
	if n := jstest.Int(t, `fake.log.filter(l => l === "write").length`); n != 7 {
		t.Errorf("writes: expected 7, got %d", n)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := jstest.Int(t, `fake.listeners`); n != 0 {
		t.Errorf("listeners left after Close: expected 0, got %d\n%s", n, log(t))
	}
	if jstest.Bool(t, `fake.gatt.connected`) {
		t.Error("expected the GATT server disconnected after Close")
	}
	if _, err := c.RoundTrip(ctx, req); !errors.Is(err, ble.ErrClosed) {
		t.Errorf("after Close: expected ble.ErrClosed, got %v", err)
	}
}

func TestConnectFails(t *testing.T) {
	tests := []struct {
		name  string
		setup string
		want  []error
	}{
		{"chooser cancelled", `fake.chooser = "User cancelled the requestDevice() chooser."`, []error{dom.ErrNotFound}},
		{"service missing", `fake.missing = "` + chip.ServiceUUID + `"`, []error{ble.ErrNoService, dom.ErrNotFound}},
		{"characteristic missing", `fake.missing = "` + chip.ResponseCharacteristic + `"`, []error{ble.ErrNoService, dom.ErrNotFound}},
		{"connect dropped", `fake.gatt.connect = async () => { throw new DOMException("Connection failed for unknown reason.", "NetworkError"); }`, []error{dom.ErrNetwork}},
		{"notifications refused", `fake.startError = "GATT operation not permitted."`, []error{dom.ErrNotSupported}},
		{"no web bluetooth", `globalThis.navigator = {}`, []error{dom.ErrNotSupported}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			install(t)
			jstest.Eval(t, tc.setup)
			c, err := click(t, testCtx(t))
			if err == nil {
				c.Close()
				t.Fatalf("expected an error, got a connection\n%s", log(t))
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("expected %v in %v", w, err)
				}
			}
			if tc.name == "no web bluetooth" {
				return
			}
			if n := jstest.Int(t, `fake.listeners`); n != 0 {
				t.Errorf("listeners left: expected 0, got %d\n%s", n, log(t))
			}
			if jstest.Bool(t, `fake.gatt.connected`) {
				t.Errorf("expected the GATT server disconnected\n%s", log(t))
			}
		})
	}
}

func TestConnectNeedsGesture(t *testing.T) {
	install(t)
	_, err := ble.Connect(testCtx(t)) // not from a click
	if !errors.Is(err, dom.ErrSecurity) {
		t.Fatalf("expected dom.ErrSecurity without a user gesture, got %v", err)
	}
}

func TestDisconnectAndReconnect(t *testing.T) {
	install(t)
	ctx := testCtx(t)
	c, err := click(t, ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	jstest.Eval(t, `fake.dropOnWrite = true`)
	if _, err := c.RoundTrip(ctx, helloFrame(t, 1, 0)); !errors.Is(err, chip.ErrDisconnected) {
		t.Fatalf("mid-exchange: expected chip.ErrDisconnected, got %v", err)
	}
	jstest.Eval(t, `fake.dropOnWrite = false`)
	if _, err := c.RoundTrip(ctx, helloFrame(t, 2, 0)); !errors.Is(err, chip.ErrDisconnected) {
		t.Fatalf("after the drop: expected chip.ErrDisconnected, got %v", err)
	}
	if err := c.Reconnect(ctx); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	if n := jstest.Int(t, `fake.listeners`); n != 2 {
		t.Errorf("listeners after reconnect: expected 2 (device and one notification), got %d", n)
	}
	if _, err := c.RoundTrip(ctx, helloFrame(t, 3, 0)); err != nil {
		t.Fatalf("after reconnecting: expected a response, got %v", err)
	}
}

package harness

import (
	"context"
	"fmt"
	"sync"

	"github.com/chromedp/cdproto/bluetoothemulation"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/deviceaccess"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"mitidchip/chip"
	"mitidchip/chip/virtual"
)

// cccd is the Client Characteristic Configuration descriptor. Without it on the
// response characteristic, startNotifications() fails with NotSupportedError.
const cccd = "00002902-0000-1000-8000-00805f9b34fb"

// batteryService is the standard Battery Service: what a device that is not a MitID
// chip offers instead (NotAChip).
const batteryService = "0000180f-0000-1000-8000-00805f9b34fb"

// ATT error codes (Bluetooth Core Vol 3 Part F 3.4.1.1) and HCI success.
const (
	attSuccess            = 0x00
	attReadNotPermitted   = 0x02
	attWriteNotPermitted  = 0x03
	attRequestUnsupported = 0x06
	hciSuccess            = 0x00
	hciPageTimeout        = 0x04 // the peripheral did not answer the connection
)

// Peripheral is a virtual chip as Chromium's emulated Bluetooth LE device: the
// chip's GATT service, with the harness answering every operation the page makes.
type Peripheral struct {
	b   *Browser
	vc  *virtual.Chip
	cfg linkConfig

	address, name string

	// gattDB is held while the GATT database is rebuilt after a disconnection;
	// discovery waits for it.
	gattDB sync.Mutex

	mu         sync.Mutex
	adapter    bluetoothemulation.CentralState
	requestID  string // Chromium's ids of the two characteristics
	responseID string
	conn       context.Context // the current GATT connection; ends on disconnect
	endConn    context.CancelFunc
	reasm      chip.Reassembler
	requests   [][]byte
	read       []byte                 // what the next read of the response characteristic returns
	target     runtime.RemoteObjectID // the page's response characteristic object
	active     bool                   // target has started notifications
	group      string                 // object group that keeps target alive
	groups     int
	prompts    map[deviceaccess.RequestID]bool

	deliver sync.Mutex // one response at a time, its chunks in order
}

// EmulateChip makes vc the one Bluetooth device Chromium finds, with the chip's GATT
// service (chip.ServiceUUID: a write-with-response request characteristic and a
// notify response characteristic), and answers the device chooser. Call it before
// the page asks for a device. Request chunks are reassembled and handed to the
// chip; its answer reaches the page's characteristicvaluechanged listener chunk by
// chunk (see notify.go for how, as Chromium cannot push a notification).
func (b *Browser) EmulateChip(vc *virtual.Chip, opts ...LinkOption) *Peripheral {
	b.t.Helper()
	b.mu.Lock()
	again := b.emulated
	b.emulated = true
	b.mu.Unlock()
	if again {
		b.t.Fatal("harness: EmulateChip called twice; Bluetooth emulation is browser-wide, one chip per browser")
	}
	p := &Peripheral{
		b: b, vc: vc, cfg: newLinkConfig(opts),
		address: "4D:49:54:49:44:01", name: "MitID chip " + vc.Serial(),
		prompts: make(map[deviceaccess.RequestID]bool),
	}
	p.adapter = p.cfg.adapter
	if err := p.setUp(); err != nil {
		b.t.Fatalf("harness: emulate Bluetooth chip: %v", err)
	}
	return p
}

func (p *Peripheral) setUp() error {
	ctx, bg := p.b.ctx, p.b.bg
	// Subscribe before enabling, so no operation is missed.
	gattOps := chromedp.BrowserEvents(bg, bluetoothemulation.GattOperationReceived)
	charOps := chromedp.BrowserEvents(bg, bluetoothemulation.CharacteristicOperationReceived)
	descOps := chromedp.BrowserEvents(bg, bluetoothemulation.DescriptorOperationReceived)
	prompts := chromedp.Events(bg, deviceaccess.DeviceRequestPrompted)

	// BluetoothEmulation lives on the browser target, DeviceAccess on the page's.
	if _, err := chromedp.CallBrowser(ctx, bluetoothemulation.Enable, bluetoothemulation.EnableParams{
		State: p.cfg.adapter, LeSupported: true,
	}); err != nil {
		return fmt.Errorf("enable emulation (%s): %w", p.cfg.adapter, err)
	}
	if _, err := chromedp.CallBrowser(ctx, bluetoothemulation.SimulatePreconnectedPeripheral, bluetoothemulation.SimulatePreconnectedPeripheralParams{
		Address: p.address, Name: p.name,
		ManufacturerData:  []*bluetoothemulation.ManufacturerData{},
		KnownServiceUUIDs: []string{chip.ServiceUUID},
	}); err != nil {
		return fmt.Errorf("add peripheral: %w", err)
	}
	if err := p.addGATT(ctx); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, deviceaccess.Enable, cdp.Empty{}); err != nil {
		return fmt.Errorf("enable device access prompts: %w", err)
	}

	p.b.background("bluetooth connection", func(ctx context.Context) error {
		for ev, err := range gattOps {
			if err != nil {
				return err
			}
			if err := p.onGATT(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	p.b.background("bluetooth characteristic", func(ctx context.Context) error {
		for ev, err := range charOps {
			if err != nil {
				return err
			}
			if err := p.onCharacteristic(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	p.b.background("bluetooth descriptor", func(ctx context.Context) error {
		for ev, err := range descOps {
			if err != nil {
				return err
			}
			p.b.trace.add("bluetooth: descriptor %s %s", ev.Type, ev.DescriptorID)
			data := []byte(nil)
			if ev.Type == bluetoothemulation.DescriptorOperationTypeRead {
				data = []byte{0, 0}
			}
			if _, err := chromedp.CallBrowser(ctx, bluetoothemulation.SimulateDescriptorOperationResponse, bluetoothemulation.SimulateDescriptorOperationResponseParams{
				DescriptorID: ev.DescriptorID, Type: ev.Type, Code: attSuccess, Data: data,
			}); err != nil {
				return fmt.Errorf("answer descriptor %s: %w", ev.Type, err)
			}
		}
		return nil
	})
	p.b.background("bluetooth chooser", func(ctx context.Context) error {
		for ev, err := range prompts {
			if err != nil {
				return err
			}
			if err := p.onPrompt(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	return nil
}

// addGATT gives the peripheral the chip's service. Chromium's emulation forgets a
// peripheral's services when it simulates a disconnection, so Disconnect calls it
// again; the characteristics then have new ids, as after a real reconnect.
func (p *Peripheral) addGATT(ctx context.Context) error {
	if p.cfg.notAChip {
		_, err := chromedp.CallBrowser(ctx, bluetoothemulation.AddService, bluetoothemulation.AddServiceParams{
			Address: p.address, ServiceUUID: batteryService,
		})
		if err != nil {
			return fmt.Errorf("add battery service: %w", err)
		}
		return nil
	}
	svc, err := chromedp.CallBrowser(ctx, bluetoothemulation.AddService, bluetoothemulation.AddServiceParams{
		Address: p.address, ServiceUUID: chip.ServiceUUID,
	})
	if err != nil {
		return fmt.Errorf("add service: %w", err)
	}
	req, err := chromedp.CallBrowser(ctx, bluetoothemulation.AddCharacteristic, bluetoothemulation.AddCharacteristicParams{
		ServiceID: svc.ServiceID, CharacteristicUUID: chip.RequestCharacteristic,
		Properties: &bluetoothemulation.CharacteristicProperties{Write: true},
	})
	if err != nil {
		return fmt.Errorf("add request characteristic: %w", err)
	}
	// Read is there only for the delivery in notify.go: a real chip would not need it.
	res, err := chromedp.CallBrowser(ctx, bluetoothemulation.AddCharacteristic, bluetoothemulation.AddCharacteristicParams{
		ServiceID: svc.ServiceID, CharacteristicUUID: chip.ResponseCharacteristic,
		Properties: &bluetoothemulation.CharacteristicProperties{Notify: true, Read: true},
	})
	if err != nil {
		return fmt.Errorf("add response characteristic: %w", err)
	}
	if _, err := chromedp.CallBrowser(ctx, bluetoothemulation.AddDescriptor, bluetoothemulation.AddDescriptorParams{
		CharacteristicID: res.CharacteristicID, DescriptorUUID: cccd,
	}); err != nil {
		return fmt.Errorf("add notification descriptor: %w", err)
	}
	p.mu.Lock()
	p.requestID, p.responseID = req.CharacteristicID, res.CharacteristicID
	p.mu.Unlock()
	return nil
}

// onPrompt answers Chromium's device chooser. The prompt event comes more than once
// per request, so each request id is answered once.
func (p *Peripheral) onPrompt(ctx context.Context, ev deviceaccess.EventDeviceRequestPrompted) error {
	p.mu.Lock()
	done := p.prompts[ev.ID]
	p.mu.Unlock()
	names := make([]string, len(ev.Devices))
	for i, d := range ev.Devices {
		names[i] = fmt.Sprintf("%q (%s)", d.Name, d.ID)
	}
	p.b.trace.add("bluetooth: chooser %s lists %v, answered before: %v", ev.ID, names, done)
	if done {
		return nil
	}
	p.mu.Lock()
	off := p.adapter != AdapterOn
	p.mu.Unlock()
	// Chromium's emulation lists the chip even with the adapter off, where the
	// real chooser says Bluetooth is off; the person can only close it.
	if p.cfg.cancelChooser || off {
		p.mu.Lock()
		p.prompts[ev.ID] = true
		p.mu.Unlock()
		_, err := chromedp.Call(ctx, deviceaccess.CancelPrompt, deviceaccess.CancelPromptParams{ID: ev.ID})
		if err != nil {
			return fmt.Errorf("cancel chooser: %w", err)
		}
		return nil
	}
	// Chromium 156 lists the emulated device by its address, with an empty name.
	var pick deviceaccess.DeviceID
	for _, d := range ev.Devices {
		if string(d.ID) == p.address || d.Name == p.name {
			pick = d.ID
		}
	}
	if pick == "" {
		return nil // the chip is not listed yet; the next event for this id will list it
	}
	p.mu.Lock()
	p.prompts[ev.ID] = true
	p.mu.Unlock()
	if _, err := chromedp.Call(ctx, deviceaccess.SelectPrompt, deviceaccess.SelectPromptParams{ID: ev.ID, DeviceID: pick}); err != nil {
		return fmt.Errorf("pick %s in chooser: %w", p.name, err)
	}
	return nil
}

func (p *Peripheral) onGATT(ctx context.Context, ev bluetoothemulation.EventGattOperationReceived) error {
	p.b.trace.add("bluetooth: gatt %s", ev.Type)
	code := int64(hciSuccess)
	p.mu.Lock()
	off := p.adapter != AdapterOn
	p.mu.Unlock()
	switch {
	case ev.Type == bluetoothemulation.GATTOperationTypeConnection && off:
		code = hciPageTimeout // Chromium's emulation would connect with the adapter off
	case ev.Type == bluetoothemulation.GATTOperationTypeConnection:
		p.mu.Lock()
		if p.endConn != nil { // the page dropped the last connection itself
			p.endConn()
		}
		p.conn, p.endConn = context.WithCancel(p.b.bg)
		p.reasm.Reset()
		p.mu.Unlock()
	case ev.Type == bluetoothemulation.GATTOperationTypeDiscovery:
		p.gattDB.Lock() // the services are back before the page looks for them
		p.gattDB.Unlock()
	}
	if _, err := chromedp.CallBrowser(ctx, bluetoothemulation.SimulateGATTOperationResponse, bluetoothemulation.SimulateGATTOperationResponseParams{
		Address: ev.Address, Type: ev.Type, Code: code,
	}); err != nil {
		return fmt.Errorf("answer %s: %w", ev.Type, err)
	}
	return nil
}

func (p *Peripheral) onCharacteristic(ctx context.Context, ev bluetoothemulation.EventCharacteristicOperationReceived) error {
	answer := func(code int64, data []byte) error {
		_, err := chromedp.CallBrowser(ctx, bluetoothemulation.SimulateCharacteristicOperationResponse, bluetoothemulation.SimulateCharacteristicOperationResponseParams{
			CharacteristicID: ev.CharacteristicID, Type: ev.Type, Code: code, Data: data,
		})
		if err != nil {
			return fmt.Errorf("answer %s: %w", ev.Type, err)
		}
		return nil
	}
	p.mu.Lock()
	isRequest, isResponse := ev.CharacteristicID == p.requestID, ev.CharacteristicID == p.responseID
	p.mu.Unlock()
	switch {
	case isRequest && ev.Type == bluetoothemulation.CharacteristicOperationTypeWrite:
		p.b.trace.add("bluetooth: write % x", ev.Data)
		if err := answer(attSuccess, nil); err != nil {
			return err
		}
		p.onChunk(ev.Data)
		return nil
	case isResponse && ev.Type == bluetoothemulation.CharacteristicOperationTypeRead:
		p.mu.Lock()
		data := p.read
		p.read = nil
		p.mu.Unlock()
		if data == nil {
			p.b.trace.add("bluetooth: the page read the response characteristic itself; refused")
			return answer(attReadNotPermitted, nil)
		}
		p.b.trace.add("bluetooth: notify % x", data)
		return answer(attSuccess, data)
	case isResponse && ev.Type == bluetoothemulation.CharacteristicOperationTypeSubscribeToNotifications:
		p.b.trace.add("bluetooth: start notifications")
		if err := answer(attSuccess, nil); err != nil {
			return err
		}
		if err := p.findTarget(ctx, true); err != nil {
			return fmt.Errorf("find the page's response characteristic: %w", err)
		}
		return nil
	case isResponse && ev.Type == bluetoothemulation.CharacteristicOperationTypeUnsubscribeFromNotifications:
		p.b.trace.add("bluetooth: stop notifications")
		p.mu.Lock()
		p.active = false
		p.mu.Unlock()
		return answer(attSuccess, nil)
	case ev.Type == bluetoothemulation.CharacteristicOperationTypeWrite:
		return answer(attWriteNotPermitted, nil)
	}
	p.b.trace.add("bluetooth: unsupported %s on %s", ev.Type, ev.CharacteristicID)
	return answer(attRequestUnsupported, nil)
}

// onChunk is the chip's firmware receiving one request chunk.
func (p *Peripheral) onChunk(data []byte) {
	p.mu.Lock()
	frame, err := p.reasm.Add(data)
	conn := p.conn
	if frame != nil {
		frame = append([]byte(nil), frame...)
		p.requests = append(p.requests, frame)
	}
	p.mu.Unlock()
	if err != nil {
		// The chip drops the frame in progress; the page's timeout covers it.
		p.b.trace.add("bluetooth: chip dropped a bad chunk: %v", err)
		return
	}
	if frame == nil {
		return
	}
	if conn == nil {
		conn = p.b.bg
	}
	fault := p.cfg.faults(frame)
	p.b.trace.add("bluetooth: request of %d bytes, %s", len(frame), fault)
	switch fault {
	case Silent:
	case Lost:
		if err := p.disconnect(p.b.bg); err != nil && p.b.bg.Err() == nil {
			p.b.fail(fmt.Errorf("bluetooth: drop the link: %w", err))
		}
	default:
		p.b.wg.Go(func() { p.respond(conn, frame, fault) })
	}
}

// Disconnect drops the GATT connection, as when the chip goes out of range: the page
// gets gattserverdisconnected, and a sign request the chip was holding is withdrawn.
func (p *Peripheral) Disconnect() {
	p.b.t.Helper()
	if err := p.disconnect(p.b.ctx); err != nil {
		p.b.t.Fatalf("harness: disconnect %s: %v", p.name, err)
	}
}

func (p *Peripheral) disconnect(ctx context.Context) error {
	p.gattDB.Lock()
	defer p.gattDB.Unlock()
	p.mu.Lock()
	if p.endConn != nil {
		p.endConn()
	}
	p.conn, p.endConn = nil, nil
	p.reasm.Reset()
	p.active = false
	p.mu.Unlock()
	p.b.trace.add("bluetooth: disconnect")
	if _, err := chromedp.CallBrowser(ctx, bluetoothemulation.SimulateGATTDisconnection, bluetoothemulation.SimulateGATTDisconnectionParams{Address: p.address}); err != nil {
		return err
	}
	return p.addGATT(ctx)
}

// SetAdapter switches the emulated adapter, as when the person turns Bluetooth
// off or on. Turning it off drops the connection, as a real adapter does.
func (p *Peripheral) SetAdapter(state bluetoothemulation.CentralState) {
	p.b.t.Helper()
	p.b.trace.add("bluetooth: adapter %s", state)
	p.mu.Lock()
	p.adapter = state
	connected := p.conn != nil
	p.mu.Unlock()
	if state != AdapterOn && connected {
		if err := p.disconnect(p.b.ctx); err != nil {
			p.b.t.Fatalf("harness: Bluetooth adapter %s: drop the connection: %v", state, err)
		}
	}
	if _, err := chromedp.CallBrowser(p.b.ctx, bluetoothemulation.SetSimulatedCentralState, bluetoothemulation.SetSimulatedCentralStateParams{State: state}); err != nil {
		p.b.t.Fatalf("harness: set Bluetooth adapter %s: %v", state, err)
	}
}

// Requests returns the request frames the chip has received whole, in order.
func (p *Peripheral) Requests() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.requests...)
}

// Connected reports whether the page holds a GATT connection to the chip, as far as
// the emulation tells: the page's own gatt.disconnect() is not reported.
func (p *Peripheral) Connected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn != nil
}

// Name is the device name the page sees (BluetoothDevice.name).
func (p *Peripheral) Name() string { return p.name }

// Address is the emulated device's Bluetooth address.
func (p *Peripheral) Address() string { return p.address }

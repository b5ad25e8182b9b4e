package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/chromedp/cdproto/domdebugger"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"mitidchip/chip"
)

// How a response reaches the page. Chromium has no command that pushes a
// notification, so each chunk is Chromium's answer to a readValue() the harness
// calls on the page's own response characteristic object; Chromium then updates
// .value and fires characteristicvaluechanged at that object, so the page's
// listener runs unchanged.

// respond runs the chip on one request and notifies its answer, chunk by chunk.
func (p *Peripheral) respond(conn context.Context, request []byte, fault Fault) {
	resp, err := p.vc.Handle(conn, request)
	if err != nil {
		if conn.Err() == nil {
			p.b.fail(fmt.Errorf("bluetooth: virtual chip: %w", err))
		}
		return
	}
	if fault == Corrupt {
		resp[len(resp)-1] ^= 0xFF
	}
	chunks, err := chip.Split(resp)
	if err != nil {
		p.b.fail(fmt.Errorf("bluetooth: split the chip's answer: %w", err))
		return
	}
	p.deliver.Lock()
	defer p.deliver.Unlock()
	if err := p.findTarget(conn, false); err != nil {
		p.b.trace.add("bluetooth: answer not delivered: %v", err)
		return
	}
	for i, c := range chunks {
		if err := p.notify(conn, c); err != nil {
			// Not the harness's failure: the page may have gone, or never
			// listened. The test sees what the page made of it.
			p.b.trace.add("bluetooth: notification %d of %d not delivered: %v", i+1, len(chunks), err)
			return
		}
	}
}

// notify delivers one chunk as a notification of the response characteristic.
func (p *Peripheral) notify(ctx context.Context, chunk []byte) error {
	p.mu.Lock()
	target, active := p.target, p.active
	if active {
		p.read = chunk
	}
	p.mu.Unlock()
	if !active {
		return errors.New("the page has not started notifications")
	}
	defer func() {
		p.mu.Lock()
		p.read = nil
		p.mu.Unlock()
	}()
	res, err := chromedp.Call(ctx, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		ObjectID:            target,
		FunctionDeclaration: `function() { return this.readValue().then(() => true); }`,
		AwaitPromise:        new(true),
		ReturnByValue:       new(true),
		Silent:              new(true),
	})
	if err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return &chromedp.ExceptionError{ExceptionDetails: res.ExceptionDetails}
	}
	return nil
}

// freshCharacteristics returns the page's response characteristic objects that no
// earlier call has returned, and remembers them all. Blink makes a new object
// for a characteristic after each reconnect, so the fresh one is the current one;
// the old ones stay in the heap while the page holds them. The WeakSet hangs off
// a registered symbol, out of the page's way.
const freshCharacteristics = `function(uuid) {
	const key = Symbol.for("mitidchip.e2e.harness.seen");
	if (!globalThis[key]) {
		Object.defineProperty(globalThis, key, {value: new WeakSet()});
	}
	const seen = globalThis[key];
	const fresh = this.filter(c => c.uuid === uuid && !seen.has(c));
	for (const c of this) {
		if (c.uuid === uuid) seen.add(c);
	}
	return fresh;
}`

// findTarget finds the page's current response characteristic object: the one a
// real chip's notifications would reach. It looks when the page starts
// notifications (subscribing) and again before each answer, because after the
// page's own gatt.disconnect() and connect() Chromium reports neither the
// reconnection nor the new startNotifications(). When several fresh objects
// exist, only one carrying the page's listener can be the current one.
func (p *Peripheral) findTarget(ctx context.Context, subscribing bool) error {
	p.mu.Lock()
	p.groups++
	group := "harness-bluetooth-" + strconv.Itoa(p.groups)
	oldGroup := p.group
	p.mu.Unlock()

	release := group
	defer func() {
		if release != "" {
			_, _ = chromedp.Call(ctx, runtime.ReleaseObjectGroup, runtime.ReleaseObjectGroupParams{ObjectGroup: release})
		}
	}()
	found, err := fresh(ctx, group)
	if err != nil {
		return err
	}
	if len(found) > 1 || !subscribing && len(found) == 1 {
		if found, err = listening(ctx, found); err != nil {
			return err
		}
	}
	switch {
	case len(found) == 0:
		// No new object: notifications go where they went, and a
		// startNotifications() on that object switches them on again.
		p.mu.Lock()
		p.active = p.active || subscribing && p.target != ""
		p.mu.Unlock()
		return nil
	case len(found) > 1:
		return fmt.Errorf("%d response characteristic objects listen, want 1", len(found))
	}
	p.mu.Lock()
	p.target, p.group, p.active = found[0], group, true
	p.mu.Unlock()
	release = oldGroup // keep the new group: it holds the target's id
	p.b.trace.add("bluetooth: notifications go to %s", found[0])
	return nil
}

// fresh returns the response characteristic objects the page made since the last
// look, held in the object group.
func fresh(ctx context.Context, group string) ([]runtime.RemoteObjectID, error) {
	proto, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{
		Expression: "BluetoothRemoteGATTCharacteristic.prototype", ObjectGroup: group, Silent: new(true),
	})
	if err != nil {
		return nil, fmt.Errorf("characteristic prototype: %w", err)
	}
	if proto.ExceptionDetails != nil {
		return nil, fmt.Errorf("characteristic prototype: %w", &chromedp.ExceptionError{ExceptionDetails: proto.ExceptionDetails})
	}
	all, err := chromedp.Call(ctx, runtime.QueryObjects, runtime.QueryObjectsParams{PrototypeObjectID: proto.Result.ObjectID, ObjectGroup: group})
	if err != nil {
		return nil, fmt.Errorf("query objects: %w", err)
	}
	uuid, _ := json.Marshal(chip.ResponseCharacteristic)
	res, err := chromedp.Call(ctx, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		ObjectID:            all.Objects.ObjectID,
		FunctionDeclaration: freshCharacteristics,
		Arguments:           []*runtime.CallArgument{{Value: uuid}},
		ObjectGroup:         group,
		Silent:              new(true),
	})
	if err != nil {
		return nil, fmt.Errorf("filter objects: %w", err)
	}
	if res.ExceptionDetails != nil {
		return nil, fmt.Errorf("filter objects: %w", &chromedp.ExceptionError{ExceptionDetails: res.ExceptionDetails})
	}
	props, err := chromedp.Call(ctx, runtime.GetProperties, runtime.GetPropertiesParams{ObjectID: res.Result.ObjectID, OwnProperties: new(true)})
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	var found []runtime.RemoteObjectID
	for _, d := range props.Result {
		if _, err := strconv.Atoi(d.Name); err == nil && d.Value != nil && d.Value.ObjectID != "" {
			found = append(found, d.Value.ObjectID)
		}
	}
	return found, nil
}

// listening keeps the objects with a characteristicvaluechanged listener.
func listening(ctx context.Context, objs []runtime.RemoteObjectID) ([]runtime.RemoteObjectID, error) {
	var keep []runtime.RemoteObjectID
	for _, id := range objs {
		res, err := chromedp.Call(ctx, domdebugger.GetEventListeners, domdebugger.GetEventListenersParams{ObjectID: id})
		if err != nil {
			return nil, fmt.Errorf("event listeners: %w", err)
		}
		for _, l := range res.Listeners {
			if l.Type == "characteristicvaluechanged" {
				keep = append(keep, id)
				break
			}
		}
	}
	return keep, nil
}

//go:build js && wasm

package nfc

import (
	"context"

	"mitidchip/chip"
)

// WriteRecord is the Conn's Tag.Write, for tests that need a write to begin with its
// context already done; through RoundTrip that context may end the wait for the
// link's turn first.
func (c *Conn) WriteRecord(ctx context.Context, rec chip.NDEFRecord) error {
	return tag{c}.Write(ctx, rec)
}

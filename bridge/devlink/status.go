// Package devlink is the dev-mode link to a virtual chip on the server: each request
// frame is POSTed to the server's dev endpoint, which answers with the response frame.
package devlink

import (
	"errors"
	"fmt"

	"mitidchip/chip"
)

// ErrUnavailable: the server has no virtual chip here; it is not in dev mode, or the
// serial is unknown. A production page never offers this link.
var ErrUnavailable = errors.New("devlink: virtual chip not available (dev mode only)")

// statusError maps the dev endpoint's HTTP status to what the page can act on.
// Numbers rather than net/http's names: importing net/http would swell the module.
func statusError(status int) error {
	switch status {
	case 200:
		return nil
	case 404:
		return ErrUnavailable
	case 408, 502, 503, 504:
		// The server or the virtual chip is not answering: for the page the same as
		// a chip that went away, so the person is asked to retry.
		return fmt.Errorf("devlink: server answered %d: %w", status, chip.ErrDisconnected)
	case 400, 413:
		return fmt.Errorf("devlink: server refused the request frame (%d)", status)
	}
	return fmt.Errorf("devlink: server answered %d", status)
}

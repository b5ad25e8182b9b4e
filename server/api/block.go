package api

import (
	"errors"
	"net/http"
	"time"

	"mitidchip/server/activation"
	"mitidchip/server/block"
	"mitidchip/server/handoff"
	"mitidchip/server/observe"
)

// BlockShowRequest carries the block token the page read from its URL fragment
// (/block#t=…), to learn which chip it would block.
type BlockShowRequest struct {
	Token string `json:"token"`
}

// BlockRequest carries the block token and the serial of the chip the person was
// shown and confirmed.
type BlockRequest struct {
	Token      string `json:"token"`
	ChipSerial string `json:"chip_serial"`
}

// BlockTarget is the chip a block token would block: the person's active chip.
type BlockTarget struct {
	ChipSerial  string `json:"chip_serial"`
	ActivatedAt string `json:"activated_at"` // RFC 3339, UTC
}

// BlockDone is a chip just blocked.
type BlockDone struct {
	ChipSerial string `json:"chip_serial"`
	BlockedAt  string `json:"blocked_at"` // RFC 3339, UTC
}

// BlockPath is the page a block token opens: <origin>/block#t=<token>.
const BlockPath = "/block"

func init() {
	status[block.CodeNoActiveChip] = http.StatusConflict
	status[block.CodeChipChanged] = http.StatusConflict
	status[block.CodeNotLoggedOn] = http.StatusUnauthorized
}

// registerBlock adds the block endpoints, when the API blocks chips.
func (a *API) registerBlock(mux *http.ServeMux) {
	if a.cfg.Block == nil {
		return
	}
	mux.HandleFunc("POST /api/v1/block/chip", a.limited(a.blockShow))
	mux.HandleFunc("POST /api/v1/block", a.limited(a.blockChip))
}

// blockClaims is the common start of both block endpoints: the origin, the
// per-address handoff limit, the body and the token, verified for blocking alone.
func (a *API) blockClaims(w http.ResponseWriter, r *http.Request, req any, token func() string) (handoff.Claims, bool) {
	if !a.sameOrigin(w, r) {
		return handoff.Claims{}, false
	}
	if !a.allow(a.handoffs, r) {
		a.fail(w, r, http.StatusTooManyRequests, "rate_limited", errors.New("handoff rate limit"))
		return handoff.Claims{}, false
	}
	if !a.decode(w, r, req) {
		return handoff.Claims{}, false
	}
	claims, err := a.cfg.BlockHandoff.Verify(token())
	if err != nil {
		code := activation.CodeHandoffInvalid
		if errors.Is(err, handoff.ErrExpired) {
			code = activation.CodeHandoffExpired
		}
		a.refuse(w, r, &activation.Error{Code: code, Err: err})
		return handoff.Claims{}, false
	}
	return claims, true
}

func (a *API) blockShow(w http.ResponseWriter, r *http.Request) {
	var req BlockShowRequest
	claims, ok := a.blockClaims(w, r, &req, func() string { return req.Token })
	if !ok {
		return
	}
	t, err := a.cfg.Block.Show(r.Context(), claims)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, BlockTarget{ChipSerial: t.Serial, ActivatedAt: t.ActivatedAt.UTC().Format(time.RFC3339)})
}

func (a *API) blockChip(w http.ResponseWriter, r *http.Request) {
	var req BlockRequest
	claims, ok := a.blockClaims(w, r, &req, func() string { return req.Token })
	if !ok {
		return
	}
	if !block.ValidSerial(req.ChipSerial) {
		a.fail(w, r, http.StatusBadRequest, "bad_request", errors.New("chip_serial missing or not 1 to 64 printable ASCII characters"))
		return
	}
	done, err := a.cfg.Block.Block(r.Context(), claims, req.ChipSerial)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	observe.Logger(r.Context()).Info("chip blocked by its holder", "serial", done.Serial, "token_id", claims.TokenID)
	writeJSON(w, http.StatusOK, BlockDone{ChipSerial: done.Serial, BlockedAt: done.BlockedAt.UTC().Format(time.RFC3339)})
}

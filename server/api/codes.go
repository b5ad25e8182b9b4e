package api

// ErrorCodes lists every error code the API answers with (docs/api.md explains each).
// Metrics label failures only with these, so a label's values stay bounded.
var ErrorCodes = []string{
	"bad_request", "body_too_large", "origin_denied", "rate_limited", "no_session", "session_expired",
	"out_of_order", "activation_blocked", "already_completed",
	"handoff_invalid", "handoff_expired", "handoff_used", "too_many_handoffs", "too_many_sessions",
	"user_id_missing", "user_id_taken",
	"verifier_invalid", "hello_invalid",
	"chip_unknown", "chip_not_attested", "chip_revoked", "chip_blocked", "chip_taken", "chip_locked",
	"too_many_codes",
	"code_format", "code_wrong", "code_used",
	"signature_invalid",
	"handover_wrong", "handover_expired", "handover_used", "handover_void",
	"no_active_chip", "chip_changed",
	"logon_failed", "logon_locked", "logon_expired", "logon_used", "chip_not_yours", "auth_request_invalid",
	"auth_request_expired",
	"not_logged_on",
	"not_caseworker", "console_idle", "press_stale", "own_activation", "fields_invalid", "document_expired",
	"citizen_unknown", "user_id_needed", "activation_under_way", "too_many_assisted", "chip_not_locked",
	"internal",
}

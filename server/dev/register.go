package dev

import "mitidchip/server/counter"

// The demo national register that Borgerservice's console looks persons up in, in
// dev mode (docs/borgerservice.md). Production has none: the console takes the
// person id as given.
var demoRegister = map[string]counter.Person{
	DemoPerson:        {ID: DemoPerson, Name: "Anna Demo", UserID: DemoUserID},
	"borger-1":        {ID: "borger-1", Name: "Mette Hansen", UserID: "mette.hansen"},
	"borger-2":        {ID: "borger-2", Name: "Lars Nielsen"}, // no user ID yet: the console asks for one
	"borger-3":        {ID: "borger-3", Name: "Søren Østergaard", UserID: "soeren.oe"},
	"sagsbehandler-1": {ID: "sagsbehandler-1", Name: "Karen Jensen", UserID: "karen.sb"},
}

// Register is the demo register.
func (m *Mode) Register() counter.Register { return register{} }

type register struct{}

func (register) Person(id string) (counter.Person, bool) {
	p, ok := demoRegister[id]
	return p, ok
}

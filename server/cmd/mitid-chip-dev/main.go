// Command mitid-chip-dev is mitid-chip with dev mode (`serve -dev`): demo keys, demo
// chips served as virtual chips, and the dev pages. `make run` starts it. Never
// deploy it.
package main

import (
	"mitidchip/server"
	"mitidchip/server/cli"
	"mitidchip/server/dev"
)

func main() { cli.Main(func() server.Dev { return dev.New() }) }

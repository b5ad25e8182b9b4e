// Command mitid-chip-dev is mitid-chip with dev mode (`serve -dev`): demo keys, demo
// chips served as virtual chips, the dev pages, and the demo site "Demo Kommune –
// selvbetjening" that logs on through the OpenID Connect provider. `make run` starts it. Never
// deploy it.
package main

import (
	"os"

	"mitidchip/server"
	"mitidchip/server/cli"
	"mitidchip/server/dev"
)

func main() {
	// The demo site, a relying party of the OpenID Connect provider: DEMO_SITE_ADDR,
	// 127.0.0.1:8081 by default; "off" for none.
	demo := os.Getenv("DEMO_SITE_ADDR")
	if demo == "" {
		demo = "127.0.0.1:8081"
	}
	var opts []dev.Option
	if demo != "off" {
		opts = append(opts, dev.WithDemoSite(demo))
	}
	cli.Main(func() server.Dev { return dev.New(opts...) })
}

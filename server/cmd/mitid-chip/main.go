// Command mitid-chip is the activation server for production: it serves the page and
// the API and imports chips. It has no dev mode and links no virtual chip.
package main

import "mitidchip/server/cli"

func main() { cli.Main(nil) }

// Command cco runs and keeps running the CCO daemon.
package main

import (
	"os"

	"github.com/anthropics/cco/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.OSEnv()))
}

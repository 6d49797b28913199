// Command herald runs the Herald server and talks to a running one.
//
//	herald serve                         start on ./herald-data with default ports
//	herald account create --name news    create an account (prints its secret once)
//	herald follow import --account 1 F   import followers, one user id per line
//	herald token --user 42               mint a client token
//	herald subscribe --user 42           print pushes as they arrive
//	herald publish --account 1 --secret S "hello"
//	herald retract --account 1 --secret S 7
//	herald status --account 1 --secret S 7
//	herald block --account 1 --secret S 42 43
//
// Everything but serve goes through the server's admin API or its protocol
// listeners, never its data directory.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", explain(err))
		os.Exit(1)
	}
}

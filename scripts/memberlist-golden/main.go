// Prints the golden memberlist vectors as "name hex" lines (see scripts/memberlist-golden.sh).
package main

import (
	"encoding/hex"
	"fmt"

	"github.com/hashicorp/memberlist"
)

func main() {
	for _, v := range memberlist.GoldenVectors() {
		fmt.Printf("%s %s\n", v.Name, hex.EncodeToString(v.Bytes))
	}
}

// A Go memberlist peer configured as MetalLB's speaker configures it (DefaultLANConfig, node
// name, bind/advertise address and port, key = first 16 bytes of secret ‖ SHA-256("")), for
// scripts/memberlist-interop.sh. Output matches speaker/examples/memberlist-node.rs:
// "MEMBERS a,b" on change and "EVENT join|leave|update <name>". Leaves (1 s) on SIGTERM.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io/ioutil"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

func main() {
	name := flag.String("name", "", "node name")
	bind := flag.String("bind", "", "ip:port")
	join := flag.String("join", "", "comma-separated ip:port list")
	secret := flag.String("secret", "", "MetalLB memberlist secret")
	verbose := flag.Bool("v", false, "print memberlist's own log")
	flag.Parse()

	host, portStr, err := net.SplitHostPort(*bind)
	if err != nil {
		panic(err)
	}
	port, _ := strconv.Atoi(portStr)

	conf := memberlist.DefaultLANConfig()
	conf.Name = *name
	conf.BindAddr = host
	conf.BindPort = port
	conf.AdvertiseAddr = host
	conf.AdvertisePort = port
	if !*verbose {
		conf.LogOutput = ioutil.Discard
	}
	if *secret != "" {
		// MetalLB's derivation, quirk included (sha256.New().Sum appends the empty digest).
		sha := sha256.New()
		conf.SecretKey = sha.Sum([]byte(*secret))[:16]
	}
	events := make(chan memberlist.NodeEvent, 100)
	conf.Events = &memberlist.ChannelEventDelegate{Ch: events}

	ml, err := memberlist.Create(conf)
	if err != nil {
		panic(err)
	}
	if *join != "" {
		n, err := ml.Join(strings.Split(*join, ","))
		if err != nil {
			fmt.Printf("JOIN-FAILED %s %v\n", *join, err)
		} else {
			fmt.Printf("JOINED %d\n", n)
		}
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	last := ""
	tick := time.NewTicker(100 * time.Millisecond)
	for {
		select {
		case e := <-events:
			kind := map[memberlist.NodeEventType]string{
				memberlist.NodeJoin: "join", memberlist.NodeLeave: "leave", memberlist.NodeUpdate: "update",
			}[e.Event]
			fmt.Printf("EVENT %s %s\n", kind, e.Node.Name)
		case <-sigs:
			ml.Leave(time.Second)
			ml.Shutdown()
			fmt.Println("LEFT")
			return
		case <-tick.C:
		}
		var names []string
		for _, m := range ml.Members() {
			names = append(names, m.Name)
		}
		sort.Strings(names)
		line := strings.Join(names, ",")
		if line != last {
			fmt.Printf("MEMBERS %s\n", line)
			last = line
		}
	}
}

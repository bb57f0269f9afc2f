// A small gVisor netstack server on a TUN device, the reference tunstack is
// measured against, serving bench/svc's services. Built by bench/main.ts from Debian's
// golang-gvisor-gvisor-dev (GOPATH mode, offline).
//
// Usage: gvisor-server -dev tungv0 -addr 192.0.2.2 -mtu 1500
// It prints "ready" once the device exists; the caller configures the
// kernel side with ip(8).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/link/tun"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"../svc"
)

func main() {
	dev := flag.String("dev", "tungv0", "TUN device name")
	addr := flag.String("addr", "192.0.2.2", "the stack's IPv4 address")
	mtu := flag.Uint("mtu", 1500, "MTU")
	flag.Parse()

	fd, err := tun.Open(*dev)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gvisor-server: open tun:", err)
		os.Exit(1)
	}
	ep, err := fdbased.New(&fdbased.Options{FDs: []int{fd}, MTU: uint32(*mtu)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gvisor-server: fdbased:", err)
		os.Exit(1)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	// SACK on, as in tunstack and Linux.
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	if e := s.CreateNIC(1, ep); e != nil {
		fmt.Fprintln(os.Stderr, "gvisor-server: nic:", e)
		os.Exit(1)
	}
	a := tcpip.Address(net.ParseIP(*addr).To4())
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: a.WithPrefix()}
	if e := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); e != nil {
		fmt.Fprintln(os.Stderr, "gvisor-server: address:", e)
		os.Exit(1)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})

	err = svc.Start(func(port uint16) (net.Listener, error) {
		return gonet.ListenTCP(s, tcpip.FullAddress{NIC: 1, Addr: a, Port: port}, ipv4.ProtocolNumber)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gvisor-server: listen:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}

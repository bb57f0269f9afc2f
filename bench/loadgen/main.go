// Load generator for `deno task bench`, for the workloads no Debian tool
// covers, and the kernel-side reference server for runs over veth.
//
//	loadgen echo     -addr H:P -bytes N         one connection, N bytes each way at once
//	loadgen pingpong -addr H:P -count N         1-byte round trips, median and p99
//	loadgen short    -addr H:P -conns N -c C    connect, 1 byte each way, close
//	                 [-server-closes]           wait for the server's FIN instead
//	loadgen send     -addr H:P -bytes N         write N bytes (to discard), Gbit/s
//	loadgen recv     -addr H:P -bytes N         read N bytes (from chargen), Gbit/s
//	loadgen hold     -addr H:P -conns N         open N echo connections, print
//	                 -hold D                    "holding", keep them D, close
//	loadgen serve    -listen A                  echo 7, once 8, discard 9, chargen 19
//
// -cc NAME (send, recv, serve) sets the kernel's congestion control for the
// connections (TCP_CONGESTION; root may choose one outside the namespace's
// allowed list), so a run can compare like with like.
//
// Every mode is bounded by its count and by -timeout. Results are one JSON
// line on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"../svc"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}

func out(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// congestion returns a socket control function that sets TCP_CONGESTION to
// cc, or nil for the namespace's default.
func congestion(cc string) func(string, string, syscall.RawConn) error {
	if cc == "" {
		return nil
	}
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, cc)
		}); err != nil {
			return err
		}
		return serr
	}
}

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: loadgen echo|pingpong|short|serve [flags]"))
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "192.0.2.2:7", "server address")
	listen := fs.String("listen", "0.0.0.0", "serve: address to listen on")
	nbytes := fs.Int64("bytes", 1<<30, "echo: bytes each way")
	count := fs.Int("count", 20000, "pingpong: round trips")
	conns := fs.Int("conns", 10000, "short: connections")
	conc := fs.Int("c", 4, "short: concurrent connections")
	serverCloses := fs.Bool("server-closes", false, "short: the server closes first")
	timeout := fs.Duration("timeout", 120*time.Second, "give up after")
	hold := fs.Duration("hold", 2*time.Second, "hold: how long to keep the connections")
	cc := fs.String("cc", "", "send, recv, serve: congestion control (default: the namespace's)")
	fs.Parse(os.Args[2:])
	time.AfterFunc(*timeout, func() { fail(fmt.Errorf("timed out after %v", *timeout)) })

	switch os.Args[1] {
	case "echo":
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			fail(err)
		}
		buf := make([]byte, 256*1024)
		start := time.Now()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left := *nbytes; left > 0; {
				n := int64(len(buf))
				if left < n {
					n = left
				}
				if _, err := c.Write(buf[:n]); err != nil {
					fail(err)
				}
				left -= n
			}
			c.(*net.TCPConn).CloseWrite()
		}()
		rbuf := make([]byte, 256*1024)
		var got int64
		for got < *nbytes {
			n, err := c.Read(rbuf)
			got += int64(n)
			if err != nil {
				break
			}
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		c.Close()
		if got != *nbytes {
			fail(fmt.Errorf("echo: got %d of %d bytes back", got, *nbytes))
		}
		out(map[string]any{"bytes": got, "seconds": secs, "gbps": float64(got) * 8 / secs / 1e9})
	case "pingpong":
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			fail(err)
		}
		c.(*net.TCPConn).SetNoDelay(true)
		b := []byte{1}
		rtts := make([]float64, 0, *count)
		for i := 0; i < *count; i++ {
			t := time.Now()
			if _, err := c.Write(b); err != nil {
				fail(err)
			}
			if _, err := io.ReadFull(c, b); err != nil {
				fail(err)
			}
			rtts = append(rtts, float64(time.Since(t).Nanoseconds())/1000)
		}
		c.Close()
		sort.Float64s(rtts)
		out(map[string]any{"count": len(rtts), "medianUs": rtts[len(rtts)/2], "p99Us": rtts[len(rtts)*99/100]})
	case "short":
		var done, failed int64
		var next int64 = -1
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < *conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := make([]byte, 64)
				for atomic.AddInt64(&next, 1) < int64(*conns) {
					c, err := net.Dial("tcp", *addr)
					if err != nil {
						atomic.AddInt64(&failed, 1)
						continue
					}
					ok := false
					if _, err := c.Write(b[:1]); err == nil {
						if _, err := io.ReadFull(c, b[:1]); err == nil {
							ok = true
						}
					}
					if ok && *serverCloses {
						// The server closes first: wait for its FIN.
						if _, err := c.Read(b); err != io.EOF {
							ok = false
						}
					}
					c.Close()
					if ok {
						atomic.AddInt64(&done, 1)
					} else {
						atomic.AddInt64(&failed, 1)
					}
				}
			}()
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		out(map[string]any{"conns": done, "failed": failed, "seconds": secs, "perSec": float64(done) / secs})
	case "send", "recv":
		c, err := (&net.Dialer{Control: congestion(*cc)}).Dial("tcp", *addr)
		if err != nil {
			fail(err)
		}
		buf := make([]byte, 256*1024)
		start := time.Now()
		var moved int64
		for moved < *nbytes {
			n := int64(len(buf))
			if *nbytes-moved < n {
				n = *nbytes - moved
			}
			var k int
			if os.Args[1] == "send" {
				k, err = c.Write(buf[:n])
			} else {
				k, err = c.Read(buf[:n])
			}
			moved += int64(k)
			if err != nil {
				break
			}
		}
		if os.Args[1] == "send" {
			// Count until the server has it all: its FIN follows our FIN.
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c)
		}
		secs := time.Since(start).Seconds()
		c.Close()
		if moved != *nbytes {
			fail(fmt.Errorf("%s: moved %d of %d bytes", os.Args[1], moved, *nbytes))
		}
		out(map[string]any{"bytes": moved, "seconds": secs, "gbps": float64(moved) * 8 / secs / 1e9})
	case "hold":
		cs := make([]net.Conn, 0, *conns)
		b := []byte{1}
		for i := 0; i < *conns; i++ {
			c, err := net.Dial("tcp", *addr)
			if err != nil {
				fail(err)
			}
			if _, err := c.Write(b); err != nil {
				fail(err)
			}
			if _, err := io.ReadFull(c, b); err != nil {
				fail(err)
			}
			cs = append(cs, c)
		}
		fmt.Println(`{"holding":` + fmt.Sprint(len(cs)) + `}`)
		time.Sleep(*hold)
		for _, c := range cs {
			c.Close()
		}
	case "serve":
		err := svc.Start(func(port uint16) (net.Listener, error) {
			lc := net.ListenConfig{Control: congestion(*cc)}
			return lc.Listen(context.Background(), "tcp", fmt.Sprintf("%s:%d", *listen, port))
		})
		if err != nil {
			fail(err)
		}
		fmt.Println("ready")
		select {}
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

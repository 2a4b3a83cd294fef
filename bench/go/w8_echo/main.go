// W8: TCP echo over loopback. A server (a goroutine per connection, echoing
// with a 4 KiB buffer) and 1,000 client goroutines in one process, each with
// its own connection. First all 1,000 connections are made and left idle
// (every client parked on a channel, every server goroutine parked in Read);
// the extra metric is the growth of the resident set (/proc/self/statm) from
// before the listener to then, divided by 1,000: the memory one idle
// connection costs, both ends counted. Then every client does 100 round
// trips of a 64-byte message; the time covers those 100,000 round trips
// (until the last client has its last echo).
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
)

const (
	connections = 1000
	roundTrips  = 100 // per connection
	message     = 64
	buffer      = 4096
)

func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(data), &size, &resident); err != nil {
		return -1
	}
	return resident * int64(os.Getpagesize())
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "W8: %s: %v\n", what, err)
	os.Exit(1)
}

func echo(c net.Conn, serving *sync.WaitGroup) {
	defer c.Close()
	buf := make([]byte, buffer)
	serving.Done()
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF: the client is done
		}
	}
}

func main() {
	before := residentBytes()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen", err)
	}
	var serving sync.WaitGroup
	serving.Add(connections)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			go echo(c, &serving)
		}
	}()

	gate := make(chan struct{})
	var connected, finished sync.WaitGroup
	connected.Add(connections)
	finished.Add(connections)
	addr := ln.Addr().String()
	errs := make(chan error, connections)
	for i := 0; i < connections; i++ {
		go func() {
			defer finished.Done()
			c, err := net.Dial("tcp", addr)
			connected.Done()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			<-gate
			out := make([]byte, message)
			in := make([]byte, message)
			for r := 0; r < roundTrips; r++ {
				out[0] = byte(r)
				if _, err := c.Write(out); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, in); err != nil {
					errs <- err
					return
				}
				if in[0] != byte(r) {
					errs <- fmt.Errorf("wrong echo")
					return
				}
			}
		}()
	}
	connected.Wait()
	serving.Wait()
	time.Sleep(10 * time.Millisecond) // let the last server goroutines reach Read
	after := residentBytes()

	start := time.Now()
	close(gate)
	finished.Wait()
	elapsed := time.Since(start)
	ln.Close()
	select {
	case err := <-errs:
		fail("client", err)
	default:
	}
	if before < 0 || after < 0 {
		fmt.Fprintln(os.Stderr, "W8: cannot read /proc/self/statm")
		os.Exit(1)
	}
	perConn := float64(after-before) / connections
	fmt.Printf("RESULT W8 go-%d %d %.1f\n", runtime.GOMAXPROCS(0), elapsed.Nanoseconds(), perConn)
}

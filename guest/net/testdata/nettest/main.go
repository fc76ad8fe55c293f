// Command nettest exercises package wasinet inside a guest; the host-side
// tests in package wasinet drive it. Modes:
//
//	echo ADDR MSG      dial ADDR, write MSG, CloseWrite, read to EOF, print it
//	roundtrips ADDR N  dial ADDR, print "ready", make N one-byte round trips
//	                   (write a byte, read one with io.ReadFull), print "done"
//	dials ADDR N       print "ready", then N times dial ADDR, write a byte
//	                   and close; print "done" and the guest's heap
//	                   allocations over the N ("mallocs M")
//	echodials ADDR N   print "ready", then N times dial ADDR, write a byte,
//	                   read one back (a Read that waits, no deadline set)
//	                   and close; print "done"
//	serve N            listen on 127.0.0.1:0, print the address, echo one
//	                   line on each of N connections served concurrently,
//	                   close the listener and set its deadline: print
//	                   whether that failed with net.ErrClosed
//	deadline ADDR      dial ADDR (which never answers), read with a deadline
//	sleep ADDR         a goroutine sleeps while another waits in Read
//	writeaftercw ADDR  dial ADDR, CloseWrite, then Write: print whether the
//	                   Write failed and whether a second Close says closed
//	pastdeadline ADDR  dial ADDR (an echo server): a Write and a Read under
//	                   a deadline in the past fail with a timeout though
//	                   the stream could take or give bytes at once
//	closewrite ADDR    dial ADDR (which never reads), Close while another
//	                   goroutine is blocked in Write (no deadline); print
//	                   whether Close returned and the Write's error
//	refused ADDR       dial ADDR where nothing listens
//	shutdownafterclose ADDR  dial ADDR (an echo server), Close, dial it
//	                   again, then CloseRead, CloseWrite and Socket the closed
//	                   connection: print their errors, and whether the
//	                   second connection still echoes
//	accepts N          listen on 127.0.0.1:0, print the address, accept N
//	                   connections one at a time: print each one's local
//	                   and remote address ("local=A remote=B") and close it
//	echoserve N        listen on 127.0.0.1:0, print the address, echo
//	                   everything on N connections served concurrently
//	echoblock          the same for one connection with blocking host calls
//	                   (blocking-read, blocking-write-and-flush), no poller
//	backoff N          listen on 127.0.0.1:0, print the address, and serve
//	                   N connections with the accept loop of guest/tls's
//	                   ExampleListen: a temporary Accept error (such as
//	                   new-socket-limit) is printed and retried after a
//	                   backoff; each connection gets "hello\n" and is
//	                   closed once its peer closed it
//
// The UDP modes are in udp.go.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	wasinet "github.com/wasitls/wasitls/guest/net"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "nettest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch args[0] {
	case "echo":
		c, err := wasinet.Dial("tcp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.WriteString(c, args[2]); err != nil {
			return err
		}
		if err := c.(*wasinet.Conn).CloseWrite(); err != nil {
			return err
		}
		b, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		fmt.Printf("echo: %s local=%v remote=%v\n", b, c.LocalAddr() != nil, c.RemoteAddr())
		return nil

	case "roundtrips":
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		c, err := wasinet.Dial("tcp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Println("ready")
		b := []byte{0}
		for range n {
			if _, err := c.Write(b); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, b); err != nil {
				return err
			}
		}
		fmt.Println("done")
		return nil

	case "serve":
		n, _ := strconv.Atoi(args[1])
		ln, err := listen()
		if err != nil {
			return err
		}
		defer ln.Close()
		err = serveEach(ln, n, func(c net.Conn) {
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				fmt.Fprintln(os.Stderr, "read:", err)
				return
			}
			c.Write([]byte("echo " + line))
		})
		if err != nil {
			return err
		}
		ln.Close()
		derr := ln.(*wasinet.Listener).SetDeadline(time.Now().Add(time.Hour))
		fmt.Printf("served %d, deadline after close closed %v\n", n, errors.Is(derr, net.ErrClosed))
		return nil

	case "deadline":
		c, err := wasinet.Dial("tcp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		start := time.Now()
		_, err = c.Read(make([]byte, 10))
		var ne net.Error
		fmt.Printf("timeout %v %v %v\n", errors.As(err, &ne) && ne.Timeout(),
			errors.Is(err, os.ErrDeadlineExceeded), time.Since(start) >= 100*time.Millisecond)
		// A deadline in the past fails at once; clearing it lets Close
		// wake a pending read.
		c.SetReadDeadline(time.Time{})
		done := make(chan error)
		go func() {
			_, err := c.Read(make([]byte, 10))
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		c.Close()
		err = <-done
		fmt.Printf("closed %v\n", errors.Is(err, net.ErrClosed))
		return nil

	case "closewrite":
		c, err := wasinet.Dial("tcp", args[1])
		if err != nil {
			return err
		}
		return closeBlockedWrite(c)

	case "pastdeadline":
		c, err := wasinet.Dial("tcp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetWriteDeadline(time.Now().Add(-time.Second))
		_, werr := c.Write([]byte("a"))
		c.SetWriteDeadline(time.Time{})
		if _, err := c.Write([]byte("b")); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond) // the echo is there to read
		c.SetReadDeadline(time.Now().Add(-time.Second))
		_, rerr := c.Read(make([]byte, 1))
		c.SetReadDeadline(time.Time{})
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil {
			return err
		}
		fmt.Printf("write timeout %v, read timeout %v, then read %s\n",
			errors.Is(werr, os.ErrDeadlineExceeded), errors.Is(rerr, os.ErrDeadlineExceeded), b)
		return nil

	case "writeaftercw":
		c, err := wasinet.Dial("tcp", args[1])
		if err != nil {
			return err
		}
		if err := c.(*wasinet.Conn).CloseWrite(); err != nil {
			return err
		}
		_, werr := c.Write([]byte("late"))
		_, werr2 := c.Write([]byte("later"))
		c.Close()
		cerr := c.Close()
		fmt.Printf("write failed %v %v (%v), second close closed %v\n", werr != nil, werr2 != nil, werr2, errors.Is(cerr, net.ErrClosed))
		return nil

	case "shutdownafterclose":
		return shutdownAfterClose(args[1])

	case "sleep":
		c, err := wasinet.Dial("tcp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		go c.Read(make([]byte, 10))
		start := time.Now()
		time.Sleep(50 * time.Millisecond)
		fmt.Printf("slept %v\n", time.Since(start) < 500*time.Millisecond)
		return nil

	case "accepts":
		n, _ := strconv.Atoi(args[1])
		ln, err := listen()
		if err != nil {
			return err
		}
		defer ln.Close()
		for range n {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			fmt.Printf("local=%v remote=%v\n", c.LocalAddr(), c.RemoteAddr())
			c.Close()
		}
		return nil

	case "holds":
		// A goroutine per connection, as a server's "go handle(conn)":
		// one byte out, then a Read until the client closes.
		return listenServeEach(args[1], func(c net.Conn) {
			if _, err := c.Write([]byte{1}); err == nil {
				c.Read(make([]byte, 1))
			}
		})

	case "echoserve":
		return listenServeEach(args[1], func(c net.Conn) { io.Copy(c, c) })

	case "backoff":
		n, _ := strconv.Atoi(args[1])
		ln, err := listen()
		if err != nil {
			return err
		}
		defer ln.Close()
		var wg sync.WaitGroup
		var delay time.Duration
		for served := 0; served < n; {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, wasinet.ErrTemporary) {
					var ne net.Error
					tmp := errors.As(err, &ne) && ne.Temporary()
					delay = min(max(2*delay, 5*time.Millisecond), time.Second)
					fmt.Printf("accept: %v (Temporary %v); retrying in %v\n", err, tmp, delay)
					time.Sleep(delay)
					continue
				}
				return err
			}
			delay = 0
			served++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.WriteString(c, "hello\n")
				io.Copy(io.Discard, c)
			}()
		}
		wg.Wait()
		return nil

	case "echoblock":
		ln, err := wasinet.ListenTCP("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Println(ln.Addr())
		c, err := ln.AcceptTCP()
		if err != nil {
			return err
		}
		defer c.Close()
		in, out, err := c.TakeStreams()
		if err != nil {
			return err
		}
		defer in.Drop()
		defer out.Drop()
		for {
			b, err := in.BlockingRead(4096)
			if err != nil {
				return nil
			}
			if err := out.BlockingWriteAndFlush(b); err != nil {
				return nil
			}
		}

	case "echodials":
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		fmt.Println("ready")
		b := []byte{1}
		for range n {
			c, err := wasinet.Dial("tcp", args[1])
			if err != nil {
				return err
			}
			if _, err := c.Write(b); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, b); err != nil {
				return err
			}
			if err := c.Close(); err != nil {
				return err
			}
		}
		fmt.Println("done")
		return nil

	case "dials", "quietdials":
		// quietdials closes each connection without writing to it.
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		fmt.Println("ready")
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			c, err := wasinet.Dial("tcp", args[1])
			if err != nil {
				return err
			}
			if args[0] == "dials" {
				if _, err := c.Write([]byte{1}); err != nil {
					return err
				}
			}
			if err := c.Close(); err != nil {
				return err
			}
		}
		runtime.ReadMemStats(&after)
		fmt.Println("done")
		fmt.Println("mallocs", after.Mallocs-before.Mallocs)
		return nil

	case "refused":
		_, err := wasinet.Dial("tcp", args[1])
		fmt.Printf("refused %v\n", err)
		return nil
	}
	if mode, ok := udpModes[args[0]]; ok {
		return mode(args[1:])
	}
	return errors.New("unknown mode " + args[0])
}

// listenServeEach listens (listen) and serves count connections, a
// decimal number, with serveEach.
func listenServeEach(count string, handle func(net.Conn)) error {
	n, _ := strconv.Atoi(count)
	ln, err := listen()
	if err != nil {
		return err
	}
	defer ln.Close()
	return serveEach(ln, n, handle)
}

// serveEach accepts n connections on ln and serves each on a goroutine of
// its own with handle, which the connection is closed after; it returns
// once all are served.
func serveEach(ln net.Listener, n int, handle func(net.Conn)) error {
	var wg sync.WaitGroup
	for range n {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			handle(c)
		}()
	}
	wg.Wait()
	return nil
}

// listen listens on 127.0.0.1:0 and prints the address.
func listen() (net.Listener, error) {
	ln, err := wasinet.Listen("tcp4", "127.0.0.1:0")
	if err == nil {
		fmt.Println(ln.Addr())
	}
	return ln, err
}

// closeBlockedWrite writes to c, whose peer never reads, until a Write
// blocks, then closes c from another goroutine: Close must wake the Write
// with net.ErrClosed and return, as crypto/tls's and package net's do,
// rather than wait for the Write to get budget the peer never gives.
func closeBlockedWrite(c net.Conn) error {
	progress := make(chan struct{}, 1)
	wrote := make(chan error, 1)
	go func() {
		b := make([]byte, 64<<10)
		for {
			if _, err := c.Write(b); err != nil {
				wrote <- err
				return
			}
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()
	// The Write is blocked once no Write returned for a while.
	for stalled := false; !stalled; {
		select {
		case <-progress:
		case err := <-wrote:
			return fmt.Errorf("write failed before Close: %v", err)
		case <-time.After(300 * time.Millisecond):
			stalled = true
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		fmt.Println("close blocked")
		return nil
	}
	select {
	case err := <-wrote:
		fmt.Printf("close returned, write closed %v\n", errors.Is(err, net.ErrClosed))
	case <-time.After(10 * time.Second):
		fmt.Println("close returned, write blocked")
	}
	return nil
}

// shutdownAfterClose calls CloseRead and CloseWrite on a closed
// connection while a second one is open: they must fail with
// net.ErrClosed and leave the second one alone, whose socket the host may
// have given the first one's handle.
func shutdownAfterClose(addr string) error {
	first, err := wasinet.Dial("tcp", addr)
	if err != nil {
		return err
	}
	first.Close()
	second, err := wasinet.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer second.Close()
	c := first.(*wasinet.Conn)
	rerr, werr := c.CloseRead(), c.CloseWrite()
	_, serr := c.Socket()
	if _, err := second.Write([]byte("x")); err != nil {
		return err
	}
	b := make([]byte, 1)
	_, err = io.ReadFull(second, b)
	fmt.Printf("closeread closed %v, closewrite closed %v, socket closed %v, other connection echoes %v (%v)\n",
		errors.Is(rerr, net.ErrClosed), errors.Is(werr, net.ErrClosed), errors.Is(serr, net.ErrClosed), err == nil && b[0] == 'x', err)
	return nil
}

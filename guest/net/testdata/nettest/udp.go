// The UDP modes:
//
//	udpecho ADDR N      N goroutines, each with its own ListenPacket socket
//	                    on 127.0.0.1:0, send "datagram I" to ADDR and read
//	                    the echo; print "udpecho N from=ADDR"
//	udpdial ADDR MSG    Dial("udp") ADDR, Write MSG, Read the echo, try
//	                    WriteTo on the connected socket; print both
//	udpserve N          ListenPacket on 127.0.0.1:0, print the address,
//	                    answer N datagrams with "echo " and the datagram
//	udpdual N           udpserve on ListenPacket("udp", ":0"): dual-stack
//	                    when the host allows the IPv6 half
//	udpdenied ADDR      ListenPacket, then WriteTo ADDR; print the first
//	                    error
//	udpdeadline [ADDR]  on a socket nobody sends to (on 127.0.0.1:0, or
//	                    ADDR, whose local IP it prints first): a read
//	                    deadline passes, a pending read whose deadline is
//	                    moved earlier returns, Close wakes a pending read,
//	                    and a goroutine sleeps meanwhile; then deadlines
//	                    set after Close must fail
//	udphoplimit N       set and read back the unicast hop limit, close, call Socket
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	wasinet "github.com/wasitls/wasitls/guest/net"
)

var udpModes = map[string]func([]string) error{
	"udpecho":     udpEcho,
	"udpdial":     udpDial,
	"udpserve":    udpServe,
	"udpdual":     func(args []string) error { return serveUDP(args, ":0") },
	"udpdenied":   udpDenied,
	"udpdeadline": udpDeadline,
	"udphoplimit": udpHopLimit,
}

func udpEcho(args []string) error {
	to, err := net.ResolveUDPAddr("udp", args[0])
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	var from net.Addr
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := wasinet.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			msg := fmt.Sprintf("datagram %d", i)
			if _, err := c.WriteTo([]byte(msg), to); err != nil {
				errs <- err
				return
			}
			b := make([]byte, 100)
			k, addr, err := c.ReadFrom(b)
			if err != nil {
				errs <- err
				return
			}
			if string(b[:k]) != msg {
				errs <- fmt.Errorf("goroutine %d read %q", i, b[:k])
				return
			}
			mu.Lock()
			from = addr
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	fmt.Printf("udpecho %d from=%v\n", n, from)
	return nil
}

func udpDial(args []string) error {
	c, err := wasinet.Dial("udp", args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(args[1])); err != nil {
		return err
	}
	b := make([]byte, 100)
	n, err := c.Read(b)
	if err != nil {
		return err
	}
	_, err = c.(net.PacketConn).WriteTo(b, c.RemoteAddr())
	fmt.Printf("udpdial: %s remote=%v local=%v writeto-connected=%v\n", b[:n], c.RemoteAddr(),
		c.LocalAddr() != nil, errors.Is(err, net.ErrWriteToConnected))
	return nil
}

func udpServe(args []string) error { return serveUDP(args, "127.0.0.1:0") }

func serveUDP(args []string, addr string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	c, err := wasinet.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println(c.LocalAddr())
	b := make([]byte, 2048)
	for range n {
		k, from, err := c.ReadFrom(b)
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(append([]byte("echo "), b[:k]...), from); err != nil {
			return err
		}
	}
	fmt.Printf("served %d\n", n)
	return nil
}

func udpDenied(args []string) error {
	c, err := wasinet.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Printf("listen: %v\n", err)
		return nil
	}
	defer c.Close()
	to, err := net.ResolveUDPAddr("udp", args[0])
	if err != nil {
		return err
	}
	_, err = c.WriteTo([]byte("x"), to)
	fmt.Printf("write: %v\n", err)
	return nil
}

func udpDeadline(args []string) error {
	addr := "127.0.0.1:0"
	if len(args) > 0 {
		addr = args[0]
	}
	c, err := wasinet.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	if addr != "127.0.0.1:0" {
		fmt.Println(c.LocalAddr().(*net.UDPAddr).IP)
	}
	b := make([]byte, 10)
	timeout := func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
	}

	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, _, err = c.ReadFrom(b)
	fmt.Printf("timeout %v after-deadline %v\n", timeout(err), time.Since(start) >= 50*time.Millisecond)

	c.SetReadDeadline(time.Now().Add(time.Hour))
	slept := make(chan bool)
	go func() {
		time.Sleep(30 * time.Millisecond)
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		slept <- true
	}()
	start = time.Now()
	_, _, err = c.ReadFrom(b)
	fmt.Printf("moved %v %v slept %v\n", timeout(err), time.Since(start) < time.Minute, <-slept)

	c.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(30 * time.Millisecond)
		c.Close()
	}()
	_, _, err = c.ReadFrom(b)
	fmt.Printf("closed %v\n", errors.Is(err, net.ErrClosed))
	_, err = c.WriteTo(b, c.LocalAddr())
	fmt.Printf("write after close %v\n", errors.Is(err, net.ErrClosed))
	fmt.Printf("deadlines after close %v\n", deadlinesClosed(c))
	return nil
}

// deadlinesClosed sets each deadline of c, which is closed: it returns
// whether every one failed with net.ErrClosed, as with package net.
func deadlinesClosed(c interface {
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}) bool {
	t := time.Now().Add(time.Hour)
	return errors.Is(c.SetDeadline(t), net.ErrClosed) &&
		errors.Is(c.SetReadDeadline(t), net.ErrClosed) &&
		errors.Is(c.SetWriteDeadline(t), net.ErrClosed)
}

func udpHopLimit(args []string) error {
	v, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	c, err := wasinet.ListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sock, err := c.Socket()
	if err != nil {
		return err
	}
	if err := sock.SetUnicastHopLimit(uint8(v)); err != nil {
		return err
	}
	got, err := sock.UnicastHopLimit()
	c.Close()
	_, serr := c.Socket()
	fmt.Printf("hop limit %d %v, socket after close closed %v\n", got, err, errors.Is(serr, net.ErrClosed))
	return nil
}

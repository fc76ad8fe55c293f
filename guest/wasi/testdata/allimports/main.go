// Command allimports references every binding so that the built module
// imports every function; the host-side test checks the imports.
package main

import (
	"fmt"
	"os"

	"github.com/wasitls/wasitls/guest/wasi/clocks"
	"github.com/wasitls/wasitls/guest/wasi/io"
	"github.com/wasitls/wasitls/guest/wasi/sockets"
	"github.com/wasitls/wasitls/guest/wasi/tls"
	"github.com/wasitls/wasitls/guest/wasi/tlsdraft"
	"github.com/wasitls/wasitls/guest/wasi/tlsext"
)

var all = []any{
	io.Error.ToDebugString, io.Error.Drop,
	io.Pollable.Ready, io.Pollable.Block, io.Pollable.Drop, io.Poll,
	io.InputStream.Read, io.InputStream.ReadInto, io.InputStream.BlockingRead,
	io.InputStream.Skip, io.InputStream.BlockingSkip, io.InputStream.Subscribe, io.InputStream.Drop,
	io.OutputStream.CheckWrite, io.OutputStream.Write, io.OutputStream.BlockingWriteAndFlush,
	io.OutputStream.Flush, io.OutputStream.BlockingFlush, io.OutputStream.Subscribe,
	io.OutputStream.WriteZeroes, io.OutputStream.BlockingWriteZeroesAndFlush,
	io.OutputStream.Splice, io.OutputStream.BlockingSplice, io.OutputStream.Drop,

	clocks.Now, clocks.Resolution, clocks.SubscribeInstant, clocks.SubscribeDuration,
	clocks.WallNow, clocks.WallResolution,

	sockets.Network.Drop, sockets.NetworkErrorCode, sockets.InstanceNetwork,
	sockets.CreateTCPSocket,
	sockets.TCPSocket.StartBind, sockets.TCPSocket.FinishBind,
	sockets.TCPSocket.StartConnect, sockets.TCPSocket.FinishConnect,
	sockets.TCPSocket.StartListen, sockets.TCPSocket.FinishListen, sockets.TCPSocket.Accept,
	sockets.TCPSocket.LocalAddress, sockets.TCPSocket.RemoteAddress,
	sockets.TCPSocket.IsListening, sockets.TCPSocket.AddressFamily,
	sockets.TCPSocket.SetListenBacklogSize,
	sockets.TCPSocket.KeepAliveEnabled, sockets.TCPSocket.SetKeepAliveEnabled,
	sockets.TCPSocket.KeepAliveIdleTime, sockets.TCPSocket.SetKeepAliveIdleTime,
	sockets.TCPSocket.KeepAliveInterval, sockets.TCPSocket.SetKeepAliveInterval,
	sockets.TCPSocket.KeepAliveCount, sockets.TCPSocket.SetKeepAliveCount,
	sockets.TCPSocket.HopLimit, sockets.TCPSocket.SetHopLimit,
	sockets.TCPSocket.ReceiveBufferSize, sockets.TCPSocket.SetReceiveBufferSize,
	sockets.TCPSocket.SendBufferSize, sockets.TCPSocket.SetSendBufferSize,
	sockets.TCPSocket.Subscribe, sockets.TCPSocket.Shutdown, sockets.TCPSocket.Drop,
	sockets.ResolveAddresses, sockets.ResolveAddressStream.ResolveNextAddress,
	sockets.ResolveAddressStream.Subscribe, sockets.ResolveAddressStream.Drop,
	sockets.CreateUDPSocket,
	sockets.UDPSocket.StartBind, sockets.UDPSocket.FinishBind, sockets.UDPSocket.Stream,
	sockets.UDPSocket.LocalAddress, sockets.UDPSocket.RemoteAddress, sockets.UDPSocket.AddressFamily,
	sockets.UDPSocket.UnicastHopLimit, sockets.UDPSocket.SetUnicastHopLimit,
	sockets.UDPSocket.ReceiveBufferSize, sockets.UDPSocket.SetReceiveBufferSize,
	sockets.UDPSocket.SendBufferSize, sockets.UDPSocket.SetSendBufferSize,
	sockets.UDPSocket.Subscribe, sockets.UDPSocket.Drop,
	sockets.IncomingDatagramStream.Receive, sockets.IncomingDatagramStream.Subscribe,
	sockets.IncomingDatagramStream.Drop,
	sockets.OutgoingDatagramStream.CheckSend, sockets.OutgoingDatagramStream.Send,
	sockets.OutgoingDatagramStream.Subscribe, sockets.OutgoingDatagramStream.Drop,

	tls.PublicIdentity.ExportX509Chain, tls.PublicIdentity.Drop,
	tls.ParsePrivateIdentity, tls.PrivateIdentity.PublicIdentity, tls.PrivateIdentity.Drop,
	tls.NewClientConnection, tls.ClientConnection.Connect, tls.ClientConnection.ServerName,
	tls.ClientConnection.ALPNID, tls.ClientConnection.ClientIdentity,
	tls.ClientConnection.ServerIdentity, tls.ClientConnection.ProtocolVersion,
	tls.ClientConnection.CipherSuite, tls.ClientConnection.Drop,
	tls.ClientHandshake.ConfigureALPNIDs, tls.ClientHandshake.VerifyServerIdentity,
	tls.ClientHandshake.ReceiveClientIdentityRequest, tls.ClientHandshakeFinish,
	tls.ClientHandshakeAbort, tls.ClientHandshake.Drop,
	tls.NewServerConnection, tls.ServerConnection.Accept,
	tls.ServerConnection.RequestClientIdentity, tls.ServerConnection.ServerName,
	tls.ServerConnection.ALPNID, tls.ServerConnection.ClientIdentity,
	tls.ServerConnection.ServerIdentity, tls.ServerConnection.ProtocolVersion,
	tls.ServerConnection.CipherSuite, tls.ServerConnection.Drop,
	tls.ServerHandshake.ConfigureALPNIDs, tls.ServerHandshake.ConfigureServerIdentities,
	tls.ServerHandshake.ReceiveClientHello, tls.ServerHandshake.RequestClientIdentity,
	tls.ServerHandshakeFinish, tls.ServerHandshakeAbort, tls.ServerHandshake.Drop,
	tls.ClientHello.ServerName, tls.ClientHello.ALPNIDs, tls.ClientHello.CipherSuites,
	tls.ClientHello.Drop,
	tls.ClientIdentityRequestRespond, tls.ClientIdentityRequest.Drop,
	tls.FutureStreams.Subscribe, tls.FutureStreams.Get, tls.FutureStreams.Drop,
	tls.FutureClientHello.Subscribe, tls.FutureClientHello.Get, tls.FutureClientHello.Drop,
	tls.FuturePublicIdentity.Subscribe, tls.FuturePublicIdentity.Get, tls.FuturePublicIdentity.Drop,
	tls.FutureClientIdentityRequest.Subscribe, tls.FutureClientIdentityRequest.Get,
	tls.FutureClientIdentityRequest.Drop,

	tlsdraft.NewClientHandshake, tlsdraft.ClientHandshakeFinish, tlsdraft.ClientHandshake.Drop,
	tlsdraft.ClientConnection.CloseOutput, tlsdraft.ClientConnection.Drop,
	tlsdraft.FutureClientStreams.Subscribe, tlsdraft.FutureClientStreams.Get,
	tlsdraft.FutureClientStreams.Drop,

	tlsext.ConfigureClientProtocolVersions, tlsext.ConfigureClientCipherSuites,
	tlsext.ConfigureClientGroups, tlsext.ConfigureServerProtocolVersions,
	tlsext.ConfigureServerCipherSuites, tlsext.ConfigureServerGroups,
	tlsext.ClientNegotiatedGroup, tlsext.ServerNegotiatedGroup,
	tlsext.CloseClientOutput, tlsext.CloseServerOutput,
	tlsext.ClientLastError, tlsext.ServerLastError,
	tlsext.AllowedAlgorithms, tlsext.DefaultAlgorithms,
	tlsext.ClientHelloVersions, tlsext.ClientHelloGroups, tlsext.ClientHelloSignatureSchemes,
	tlsext.ClientIdentityRequestSignatureSchemes, tlsext.ClientIdentityRequestAuthorities,
	tlsext.ParsePrivateIdentity, tlsext.HostIdentity,
	tlsext.ExportClientKeyingMaterial, tlsext.ExportServerKeyingMaterial,
	tlsext.ConfigureClientResumption, tlsext.ConfigureServerResumption,
	tlsext.ClientSessionResumed, tlsext.ServerSessionResumed,
	tlsext.ClientOCSPResponse,
}

func main() {
	if len(os.Args) > 1<<20 {
		fmt.Println(all...)
	}
}

// What HttpSession needs to know about the stream it serves, for plain HTTP (here) and for HTTP
// inside intercepted TLS (HttpStreamTraits<TlsStream>, in tls_origin.h). Everything is static and
// inline: for plain HTTP each call compiles to what the session did before it was a template.
//
//   Upstream          the origin connection (a socket; for TLS, a TLS stream re-made per
//   connection) tcp(s)            the TCP socket under a stream: addresses, options, cancel,
//   resets, close stream(u)         the stream to read and write the origin through renew(u) a
//   closed socket for the next origin connection (for TLS, a fresh TLS state) startUpstream what
//   follows the TCP connect before the request head goes (TLS handshake) closeSend         the end
//   of our sending side after the last response (TLS: close_notify) halfClose         passes a
//   tunnel's end of stream on; false when the other direction cannot go on endOfStream(ec)   the
//   peer ended its stream (TLS: also without close_notify) kIdleWaitWithoutBuffer
//                     whether a keep-alive connection can wait for readability with no buffer:
//                     TLS cannot, bytes may already sit decrypted or undecrypted in its buffers
//   rules             the policy rules that judge the connection's requests
#pragma once

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <utility>

#include "policy/compiled_policy.h"
#include "proxy/socket_options.h"

namespace boost::asio::ssl {
template <typename Stream>
class stream;
}  // namespace boost::asio::ssl

namespace portcullis::proxy {

using TlsStream = boost::asio::ssl::stream<Tcp::socket>;

template <class Stream>
struct HttpStreamTraits;

template <>
struct HttpStreamTraits<Tcp::socket> {
  using Upstream = Tcp::socket;
  static constexpr bool kIdleWaitWithoutBuffer = true;

  static bool endOfStream(const boost::system::error_code& ec) {
    return ec == boost::asio::error::eof;
  }
  static Tcp::socket& tcp(Tcp::socket& socket) { return socket; }
  static Tcp::socket& stream(Tcp::socket& upstream) { return upstream; }
  static Tcp::socket& renew(Tcp::socket& upstream) { return upstream; }

  // Both continue with a member of the session (`next`), called at once here; the TLS
  // versions call it when their asynchronous step has completed.
  template <class Session>
  static void startUpstream(Tcp::socket& /*upstream*/, Session& session,
                            void (Session::*next)(const boost::system::error_code&)) {
    (session.*next)(boost::system::error_code());
  }

  template <class Session>
  static void closeSend(Tcp::socket& socket, bool fin, Session& session, void (Session::*next)()) {
    boost::system::error_code ignored;
    if (fin) socket.shutdown(Tcp::socket::shutdown_send, ignored);
    (session.*next)();
  }

  static bool halfClose(Tcp::socket& socket) {
    boost::system::error_code ignored;
    socket.shutdown(Tcp::socket::shutdown_send, ignored);
    return true;
  }

  static policy::FlowRules rules(const policy::CompiledPolicy& policy, const policy::Flow& flow,
                                 const Tcp::socket& /*upstream*/) {
    return policy.matchFlow(flow, policy::L7Protocol::kHttp);
  }
};

}  // namespace portcullis::proxy

// HTTP inside intercepted TLS (issue 7): the origin side of an HttpSession<TlsStream>, and the
// HttpStreamTraits that make HttpSession speak TLS on both sides.
//
// The origin connection is a TLS stream toward the original destination, verified with the
// intercepting rule's originatingTLS context; each new TCP connection gets a fresh TLS state
// (an SSL object cannot be reused after its connection closed). The requests of an intercepted
// connection are judged by the `http` entries of the terminatingTLS rules that selected the flow
// and allow its server name (interceptingRules).
//
// boost/asio/ssl includes OpenSSL's headers: the TLS sessions are the accepted exception to
// "wrapped once" (tls_interception.cc wraps the rest).
#pragma once

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "policy/compiled_policy.h"
#include "proxy/http_session.h"
#include "proxy/http_stream_traits.h"

namespace portcullis::proxy {

// The terminatingTLS rules among a TLS flow's rules whose server-name list (none: any name)
// allows `server_name`, in policy order. Empty: nothing intercepts this connection.
policy::FlowRules interceptingRules(const policy::CompiledPolicy& policy, const policy::Flow& flow,
                                    std::string_view server_name);

class TlsOrigin {
 public:
  // Sets SNI and the name to verify on an origin connection before its handshake.
  using Prepare = std::error_code (*)(SSL* ssl, std::string_view server_name);

  // `owner` keeps `context` alive (the interception it belongs to) as long as the session.
  TlsOrigin(const Tcp::socket::executor_type& executor, boost::asio::ssl::context& context,
            std::string server_name, Prepare prepare_handshake, std::shared_ptr<const void> owner);

  TlsStream& stream() { return *stream_; }
  const std::string& serverName() const { return server_name_; }
  // A fresh TLS state on a closed socket, for the next connection to the origin.
  Tcp::socket& renew();
  boost::system::error_code prepareHandshake();

 private:
  Tcp::socket::executor_type executor_;
  boost::asio::ssl::context* context_;
  std::string server_name_;
  Prepare prepare_;
  std::shared_ptr<const void> owner_;
  std::optional<TlsStream> stream_;
};

template <>
struct HttpStreamTraits<TlsStream> {
  using Upstream = TlsOrigin;
  // Bytes may wait inside the TLS layer (a record read whole, decrypted in part): readiness of
  // the socket says nothing about them, so a keep-alive connection keeps its read pending.
  static constexpr bool kIdleWaitWithoutBuffer = false;

  // A peer that closes TCP without close_notify (many clients do) ends its stream all the same;
  // the framing of HTTP, not TLS, tells whether a message was complete.
  static bool endOfStream(const boost::system::error_code& ec) {
    return ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated;
  }
  static Tcp::socket& tcp(TlsStream& stream) { return stream.next_layer(); }
  static Tcp::socket& tcp(TlsOrigin& upstream) { return upstream.stream().next_layer(); }
  static TlsStream& stream(TlsOrigin& upstream) { return upstream.stream(); }
  static Tcp::socket& renew(TlsOrigin& upstream) { return upstream.renew(); }

  template <class Session>
  static void startUpstream(TlsOrigin& upstream, Session& session,
                            void (Session::*next)(const boost::system::error_code&)) {
    if (const boost::system::error_code ec = upstream.prepareHandshake()) {
      (session.*next)(ec);
      return;
    }
    upstream.stream().async_handshake(
        boost::asio::ssl::stream_base::client,
        [self = session.shared_from_this(), next](const boost::system::error_code& ec) {
          ((*self).*next)(ec);
        });
  }

  // close_notify first; it completes when the client answers with its own or closes.
  template <class Session>
  static void closeSend(TlsStream& stream, bool fin, Session& session, void (Session::*next)()) {
    stream.async_shutdown(
        [self = session.shared_from_this(), &stream, fin, next](const boost::system::error_code&) {
          boost::system::error_code ignored;
          if (fin) stream.next_layer().shutdown(Tcp::socket::shutdown_send, ignored);
          ((*self).*next)();
        });
  }

  // A TLS end of stream cannot be passed on while the other direction still writes through
  // the same TLS state: the tunnel ends.
  static bool halfClose(TlsStream& /*stream*/) { return false; }

  static policy::FlowRules rules(const policy::CompiledPolicy& policy, const policy::Flow& flow,
                                 const TlsOrigin& upstream) {
    return interceptingRules(policy, flow, upstream.serverName());
  }
};

using TlsHttpSession = HttpSession<TlsStream>;
extern template class HttpSession<TlsStream>;  // http_session*.cc

}  // namespace portcullis::proxy

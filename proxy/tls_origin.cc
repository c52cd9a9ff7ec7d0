#include "proxy/tls_origin.h"

#include <utility>

namespace portcullis::proxy {

policy::FlowRules interceptingRules(const policy::CompiledPolicy& policy, const policy::Flow& flow,
                                    std::string_view server_name) {
  policy::FlowRules out;
  const policy::FlowRules rules = policy.matchFlow(flow, policy::L7Protocol::kTls);
  policy::FlowRules one;
  for (uint32_t index : rules.rules) {
    if (!policy.source().rules[index].terminating_tls) continue;
    one.rules.assign(1, index);
    if (policy.tls(one, server_name).allowed) out.rules.push_back(index);
  }
  return out;
}

TlsOrigin::TlsOrigin(const Tcp::socket::executor_type& executor, boost::asio::ssl::context& context,
                     std::string server_name, Prepare prepare_handshake,
                     std::shared_ptr<const void> owner)
    : executor_(executor),
      context_(&context),
      server_name_(std::move(server_name)),
      prepare_(prepare_handshake),
      owner_(std::move(owner)) {
  stream_.emplace(executor_, *context_);
}

Tcp::socket& TlsOrigin::renew() {
  stream_.reset();  // closes the old socket, frees the old TLS state
  stream_.emplace(executor_, *context_);
  return stream_->next_layer();
}

boost::system::error_code TlsOrigin::prepareHandshake() {
  if (!prepare_) return {};
  const std::error_code ec = prepare_(stream_->native_handle(), server_name_);
  if (!ec) return {};
  return boost::system::error_code(ec.value(), boost::asio::error::get_ssl_category());
}

}  // namespace portcullis::proxy

#include "app/node_address_follower.h"

#include <sstream>
#include <string>

#include "common/log.h"

namespace portcullis::app {
namespace {

std::string joined(const std::vector<boost::asio::ip::address>& addresses) {
  std::ostringstream out;
  for (const auto& a : addresses) out << ' ' << a;
  return out.str();
}

}  // namespace

NodeAddressFollower::NodeAddressFollower(boost::asio::io_context& io,
                                         std::shared_ptr<proxy::NodeAddresses> store, Read read)
    : store_(std::move(store)), read_(std::move(read)), readable_(io) {}

NodeAddressFollower::~NodeAddressFollower() { stop(); }

Result<void> NodeAddressFollower::start() {
  auto opened = datapath::AddressWatcher::open();
  if (opened) {
    watcher_.emplace(std::move(opened).value());
    readable_.assign(watcher_->fd());
  }
  store_->publish(read_());
  log::info("node addresses: ", store_->load()->addresses().size(), " at the start");
  if (!opened) return opened.error();
  wait();
  return ok();
}

void NodeAddressFollower::stop() {
  if (!watcher_) return;
  boost::system::error_code ignored;
  readable_.cancel(ignored);
  readable_.release();  // the watcher closes its socket
  watcher_.reset();
}

void NodeAddressFollower::refresh() {
  const proxy::NodeAddresses::Change change = store_->publish(read_());
  if (!change.added.empty()) log::info("node addresses: added", joined(change.added));
  if (!change.removed.empty()) log::info("node addresses: removed", joined(change.removed));
}

void NodeAddressFollower::wait() {
  readable_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& ec) { onReadable(ec); });
}

void NodeAddressFollower::onReadable(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::operation_aborted || !watcher_) return;
  Result<bool> drained = ec ? Result<bool>(std::error_code(ec)) : watcher_->drain();
  if (!drained) {
    // The set in force stays; reading blindly on a timer instead would hide the failure.
    log::error("node addresses: netlink notifications failed (", drained.error().message(),
               "); the addresses are no longer followed");
    stop();
    return;
  }
  // A burst (an interface with several addresses, many containers at once) is read once.
  if (drained.value()) refresh();
  wait();
}

}  // namespace portcullis::app

// Keeps the proxies' proxy::NodeAddresses in step with the node while the daemon runs: the list
// is read at start() and again after every batch of notifications of datapath::AddressWatcher
// (an address added or removed, or notifications lost), and published; a change is logged at
// info level, naming the addresses added and removed.
//
// Runs on the daemon's io_context (its main thread), as PolicyWatcher does: no thread of its own.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/result.h"
#include "datapath/address_watcher.h"
#include "proxy/node_addresses.h"

namespace portcullis::app {

class NodeAddressFollower {
 public:
  // The node's complete list now; proxy::localAddresses outside tests.
  using Read = std::function<std::vector<boost::asio::ip::address>()>;

  NodeAddressFollower(boost::asio::io_context& io, std::shared_ptr<proxy::NodeAddresses> store,
                      Read read = proxy::localAddresses);
  ~NodeAddressFollower();
  NodeAddressFollower(const NodeAddressFollower&) = delete;
  NodeAddressFollower& operator=(const NodeAddressFollower&) = delete;

  // Subscribes, then reads and publishes the list (in that order: a change in between is
  // notified). The error names the netlink socket's errno; the store is published either way.
  Result<void> start();
  // Closes the netlink socket; the store keeps the last set.
  void stop();

  // Reads and publishes the list; logs what changed. What each batch of notifications does.
  void refresh();

 private:
  void wait();
  void onReadable(const boost::system::error_code& ec);

  std::shared_ptr<proxy::NodeAddresses> store_;
  Read read_;
  std::optional<datapath::AddressWatcher> watcher_;  // owns the descriptor below
  boost::asio::posix::stream_descriptor readable_;
};

}  // namespace portcullis::app

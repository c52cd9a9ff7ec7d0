// A small DNS server on 127.0.0.1 (UDP and TCP, one port) for the DNS proxy's tests. Its
// answers depend on the question's first label:
//   hold.*  answered only when releaseHeld() is called     drop.*   never answered
//   tc.*    TC set, no records, an EDNS0 OPT record        big.*    3000 A records (TCP only)
//   cname.* CNAME edge.cdn.test (TTL 30) + its A 198.18.6.1 (TTL 300)
//   wrongq.* an answer whose question is another name (what a spoofer would send)
//   closer.* answered, then the TCP connection is closed (queries after it on it are lost)
//   other   one A record 198.18.5.1, TTL 60
// It runs on the test's io_context; counters are read from the test thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/proxy/dns_test_support.h"

namespace portcullis::proxy::testing {

namespace asio = boost::asio;

// The first label and the end of the (uncompressed) question of a message.
inline std::string firstLabel(const std::vector<uint8_t>& m) {
  if (m.size() < 13 || m[12] == 0 || size_t{13} + m[12] > m.size()) return "";
  return std::string(m.begin() + 13, m.begin() + 13 + m[12]);
}

inline size_t questionEnd(const std::vector<uint8_t>& m) {
  size_t pos = 12;
  while (pos < m.size() && m[pos] != 0) pos += 1 + m[pos];
  return pos + 5;
}

class FakeDnsUpstream {
 public:
  // UDP and TCP on one port: the kernel picks it for UDP, and TCP may find it taken, so a few
  // draws are allowed.
  explicit FakeDnsUpstream(asio::io_context& io) : io_(io), udp_(io), acceptor_(io) {
    const auto loopback = asio::ip::make_address("127.0.0.1");
    for (int attempt = 0; attempt < 20; ++attempt) {
      boost::system::error_code ec;
      udp_ = asio::ip::udp::socket(io, {loopback, 0});
      acceptor_ = asio::ip::tcp::acceptor(io);
      acceptor_.open(asio::ip::tcp::v4());
      acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
      acceptor_.bind({loopback, udp_.local_endpoint().port()}, ec);
      if (!ec) break;
    }
    acceptor_.listen();
  }

  asio::ip::udp::endpoint endpoint() const { return udp_.local_endpoint(); }
  uint16_t port() const { return udp_.local_endpoint().port(); }

  void start() {
    receiveUdp();
    accept();
  }

  void close() {
    boost::system::error_code ignored;
    udp_.close(ignored);
    acceptor_.close(ignored);
    for (auto& weak : connections_) {
      if (auto c = weak.lock()) c->close(ignored);
    }
    held_.clear();
  }

  size_t received() const { return received_.load(); }
  size_t tcpConnections() const { return tcp_connections_.load(); }
  bool waitReceived(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return received_.load() >= n; });
  }
  // The bytes last sent in answer to a query whose first label is `label`.
  std::vector<uint8_t> sentFor(const std::string& label) {
    std::lock_guard lock(mutex_);
    return sent_[label];
  }
  // The IDs and UDP source ports of the queries received, in order.
  std::vector<uint16_t> receivedIds() {
    std::lock_guard lock(mutex_);
    return ids_;
  }
  std::vector<uint16_t> udpSourcePorts() {
    std::lock_guard lock(mutex_);
    return ports_;
  }
  void releaseHeld() {
    asio::post(io_, [this] {
      auto held = std::move(held_);
      for (auto& send : held) send();
    });
  }

  static std::vector<uint8_t> answerFor(const std::vector<uint8_t>& query) {
    const std::string label = firstLabel(query);
    const size_t qend = std::min(questionEnd(query), query.size());
    std::vector<uint8_t> out(query.begin(), query.begin() + 12);
    out[2] = static_cast<uint8_t>(0x81 | (query[2] & 0x01));  // QR, RD copied
    out[3] = 0x80;                                            // RA, NOERROR
    out[4] = 0;
    out[5] = 1;
    for (int i = 6; i < 12; ++i) out[i] = 0;
    out.insert(out.end(), query.begin() + 12, query.begin() + qend);
    auto record = [&](uint16_t owner_pointer, uint16_t type, uint32_t ttl,
                      const std::vector<uint8_t>& rdata) {
      put16(out, owner_pointer);
      put16(out, type);
      put16(out, 1);
      put32(out, ttl);
      put16(out, static_cast<uint16_t>(rdata.size()));
      append(out, rdata);
    };
    uint16_t answers = 0;
    if (label == "tc") {
      out[2] |= 0x02;
      out[11] = 1;
      out.push_back(0);
      put16(out, 41);
      put16(out, 1232);
      put32(out, 0);
      put16(out, 0);
    } else if (label == "big") {
      for (int i = 0; i < 3000; ++i) {
        record(0xc00c, 1, 60, {198, 19, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)});
      }
      answers = 3000;
    } else if (label == "wrongq") {
      out[13 + 1] ^= 0x01;  // one letter of the echoed question changed
      record(0xc00c, 1, 60, {198, 18, 5, 1});
      answers = 1;
    } else if (label == "cname") {
      const size_t target_at = out.size() + 12;
      record(0xc00c, 5, 30, encodeName("edge.cdn.test"));
      record(static_cast<uint16_t>(0xc000 | target_at), 1, 300, {198, 18, 6, 1});
      answers = 2;
    } else {
      record(0xc00c, 1, 60, {198, 18, 5, 1});
      answers = 1;
    }
    out[6] = static_cast<uint8_t>(answers >> 8);
    out[7] = static_cast<uint8_t>(answers);
    return out;
  }

 private:
  using Send = std::function<void()>;

  // Decides what happens to a query; `send` delivers an answer.
  void onQuery(std::vector<uint8_t> query, std::function<void(std::vector<uint8_t>)> send) {
    const std::string label = firstLabel(query);
    auto answer = answerFor(query);
    {
      std::lock_guard lock(mutex_);
      sent_[label] = answer;
      ids_.push_back(idOf(query));
      ++received_;
    }
    cv_.notify_all();
    if (label == "drop") return;
    if (label == "hold") {
      held_.push_back([send, answer] { send(answer); });
      return;
    }
    send(std::move(answer));
  }

  void receiveUdp() {
    udp_.async_receive_from(
        asio::buffer(buffer_), from_, [this](const boost::system::error_code& ec, size_t n) {
          if (ec) return;
          const auto to = from_;
          {
            std::lock_guard lock(mutex_);
            ports_.push_back(to.port());
          }
          onQuery({buffer_.begin(), buffer_.begin() + n}, [this, to](std::vector<uint8_t> answer) {
            boost::system::error_code ignored;
            udp_.send_to(asio::buffer(answer), to, 0, ignored);
          });
          receiveUdp();
        });
  }

  void accept() {
    acceptor_.async_accept(
        [this](const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
          if (ec) return;
          auto conn = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
          connections_.push_back(conn);
          ++tcp_connections_;
          readFrame(conn);
          accept();
        });
  }

  void readFrame(std::shared_ptr<asio::ip::tcp::socket> conn) {
    auto length = std::make_shared<std::array<uint8_t, 2>>();
    asio::async_read(
        *conn, asio::buffer(*length),
        [this, conn, length](const boost::system::error_code& ec, size_t) {
          if (ec) return;
          auto body =
              std::make_shared<std::vector<uint8_t>>(size_t{(*length)[0]} << 8 | (*length)[1]);
          asio::async_read(*conn, asio::buffer(*body),
                           [this, conn, body](const boost::system::error_code& e, size_t) {
                             if (e) return;
                             const bool close_after = firstLabel(*body) == "closer";
                             onQuery(*body, [conn, close_after](std::vector<uint8_t> answer) {
                               auto framed = std::make_shared<std::vector<uint8_t>>();
                               put16(*framed, static_cast<uint16_t>(answer.size()));
                               append(*framed, answer);
                               asio::async_write(*conn, asio::buffer(*framed),
                                                 [framed, conn, close_after](
                                                     const boost::system::error_code&, size_t) {
                                                   boost::system::error_code ignored;
                                                   if (close_after) conn->close(ignored);
                                                 });
                             });
                             if (!close_after) readFrame(conn);
                           });
        });
  }

  asio::io_context& io_;
  asio::ip::udp::socket udp_;
  asio::ip::tcp::acceptor acceptor_;
  std::array<uint8_t, 65536> buffer_{};
  asio::ip::udp::endpoint from_;
  std::vector<std::weak_ptr<asio::ip::tcp::socket>> connections_;
  std::vector<Send> held_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<size_t> received_{0};
  std::atomic<size_t> tcp_connections_{0};
  std::map<std::string, std::vector<uint8_t>> sent_;
  std::vector<uint16_t> ids_;
  std::vector<uint16_t> ports_;
};

}  // namespace portcullis::proxy::testing

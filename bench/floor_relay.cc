// floor_relay: the least work a transparent proxy can do on bench/http's and bench/dns's
// datapath, as a yardstick for them (bench/README.md, "The floor"). One thread, level-triggered
// epoll, plain system calls, IPv4 only (the benches' datapath is IPv4), no policy, no parsing.
//   TCP: an IP_TRANSPARENT listener on 127.0.0.1:PORT (where TPROXY delivers); each accepted
//        connection is relayed to its local address (the original destination) over a socket
//        marked 0xa00, as portcullis's upstream. Readable: one read, one write to the peer; a short
//        write keeps the rest and waits for EPOLLOUT, without reading more from the other side.
//   UDP: an IP_TRANSPARENT socket on 127.0.0.1:PORT with IP_RECVORIGDSTADDR; queries read with
//        recvmmsg, their ID replaced by a slot number, sent with sendmmsg through one unconnected
//        upstream socket marked 0xa00; answers read with recvmmsg, their ID put back, and sent with
//        sendmmsg from the server's address through an IP_TRANSPARENT socket bound (and connected)
//        to it, marked 0xb00: the system calls portcullis's DNS path makes, minus its work.
// usage: floor_relay [--tcp PORT] [--udp PORT]; prints "ready" once listening; ends on a signal.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr int kUpstreamMark = 0xa00;  // portcullis's upstream mark: never redirected, untracked
constexpr int kAnswerMark = 0xb00;    // its listeners' and reply sockets' mark
constexpr unsigned kBatch = 32;       // portcullis's DnsUdpListener::kBatch

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void setInt(int fd, int level, int name, int value) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) die("setsockopt");
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int transparentSocket(int type, uint16_t port) {
  const int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  setInt(fd, SOL_IP, IP_TRANSPARENT, 1);
  setInt(fd, SOL_SOCKET, SO_MARK, kAnswerMark);
  const sockaddr_in at = loopback(port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) die("bind");
  return fd;
}

bool isListener(const sockaddr_in& address, uint16_t port) {
  return address.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && address.sin_port == htons(port);
}

class Relay {
 public:
  Relay();
  void listenTcp(uint16_t port);
  void listenUdp(uint16_t port);
  [[noreturn]] void run();

 private:
  // One side of a relayed TCP connection; `pending` holds bytes read from the peer that this
  // side's socket did not take yet; `peer` is null once the other side is closed.
  struct Side {
    int fd = -1;
    Side* peer = nullptr;
    std::vector<char> pending;
    size_t sent = 0;
    bool closed = false;
  };
  struct Query {  // by the ID the upstream query carries
    sockaddr_in client{};
    sockaddr_in server{};
    uint16_t client_id = 0;
    bool used = false;
  };
  struct Datagram {
    std::array<char, 4096> data;
    sockaddr_in from;
    std::array<char, 64> control;
    iovec iov;
  };

  void add(int fd, uint32_t events, void* tag) {
    epoll_event e{events, {.ptr = tag}};
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &e) != 0) die("epoll_ctl");
  }
  void accept();
  void update(Side& s);
  void onSide(Side& s, uint32_t events);
  void close(Side& s);
  void readQueries();
  void readAnswers();
  int replySocket(const sockaddr_in& server);
  int receive(int fd);

  int epoll_;
  int tcp_listener_ = -1;
  int udp_listener_ = -1;
  int upstream_ = -1;
  char tcp_tag_ = 0, udp_tag_ = 0, upstream_tag_ = 0;  // epoll tags of those three sockets
  uint16_t tcp_port_ = 0, udp_port_ = 0;
  std::array<char, 65536> buffer_;
  std::vector<Side*> closed_;  // freed after the epoll batch that closed them
  std::vector<Query> queries_ = std::vector<Query>(65536);
  uint16_t next_id_ = 0;
  std::map<std::pair<uint32_t, uint16_t>, int> reply_sockets_;
  std::vector<Datagram> in_ = std::vector<Datagram>(kBatch);
  std::vector<mmsghdr> in_headers_ = std::vector<mmsghdr>(kBatch);
  std::vector<mmsghdr> out_headers_ = std::vector<mmsghdr>(kBatch);
  std::vector<int> out_fds_ = std::vector<int>(kBatch);
  std::vector<sockaddr_in> out_to_ = std::vector<sockaddr_in>(kBatch);
  std::vector<iovec> out_iov_ = std::vector<iovec>(kBatch);
};

void Relay::listenTcp(uint16_t port) {
  tcp_port_ = port;
  tcp_listener_ = transparentSocket(SOCK_STREAM, port);
  setInt(tcp_listener_, IPPROTO_TCP, TCP_NODELAY, 1);  // inherited by accepted sockets
  if (listen(tcp_listener_, 4096) != 0) die("listen");
  add(tcp_listener_, EPOLLIN, &tcp_tag_);
}

void Relay::listenUdp(uint16_t port) {
  udp_port_ = port;
  udp_listener_ = transparentSocket(SOCK_DGRAM, port);
  setInt(udp_listener_, SOL_IP, IP_RECVORIGDSTADDR, 1);
  setInt(udp_listener_, SOL_SOCKET, SO_RCVBUF, 4 << 20);  // as portcullis's listener
  add(udp_listener_, EPOLLIN, &udp_tag_);
  upstream_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (upstream_ < 0) die("socket");
  setInt(upstream_, SOL_SOCKET, SO_MARK, kUpstreamMark);
  const sockaddr_in any{AF_INET, 0, {INADDR_ANY}, {}};
  if (bind(upstream_, reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0) die("bind");
  add(upstream_, EPOLLIN, &upstream_tag_);
}

void Relay::run() {
  std::array<epoll_event, 64> events;
  for (;;) {
    const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &tcp_tag_) {
        accept();
      } else if (tag == &udp_tag_) {
        readQueries();
      } else if (tag == &upstream_tag_) {
        readAnswers();
      } else if (auto* side = static_cast<Side*>(tag); !side->closed) {
        onSide(*side, events[i].events);
      }
    }
    for (Side* s : closed_) delete s;
    closed_.clear();
  }
}

void Relay::accept() {
  for (;;) {
    const int client = accept4(tcp_listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return;  // EAGAIN: drained (other errors: the next wakeup retries)
    sockaddr_in original{};
    socklen_t length = sizeof original;
    const int server = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    // A connection made to the listener itself (not redirected) would be relayed to it again.
    if (server < 0 || getsockname(client, reinterpret_cast<sockaddr*>(&original), &length) != 0 ||
        isListener(original, tcp_port_)) {
      ::close(client);
      if (server >= 0) ::close(server);
      continue;
    }
    setInt(server, SOL_SOCKET, SO_MARK, kUpstreamMark);
    setInt(server, IPPROTO_TCP, TCP_NODELAY, 1);
    if (connect(server, reinterpret_cast<const sockaddr*>(&original), length) != 0 &&
        errno != EINPROGRESS) {
      ::close(client);
      ::close(server);
      continue;
    }
    // Writes to a connecting socket fail with EAGAIN and wait for EPOLLOUT like a short write.
    auto* a = new Side;
    auto* b = new Side;
    a->fd = client;
    a->peer = b;
    b->fd = server;
    b->peer = a;
    add(client, EPOLLIN, a);
    add(server, EPOLLIN, b);
  }
}

// Reads from a side only while its peer has nothing pending; waits for EPOLLOUT while it has.
void Relay::update(Side& s) {
  uint32_t events = s.pending.empty() ? 0u : uint32_t{EPOLLOUT};
  if (s.peer != nullptr && s.peer->pending.empty()) events |= EPOLLIN;
  epoll_event e{events, {.ptr = &s}};
  epoll_ctl(epoll_, EPOLL_CTL_MOD, s.fd, &e);
}

void Relay::onSide(Side& s, uint32_t events) {
  if ((events & EPOLLOUT) && !s.pending.empty()) {
    const ssize_t w = write(s.fd, s.pending.data() + s.sent, s.pending.size() - s.sent);
    if (w < 0 && errno != EAGAIN) return close(s);
    if (w > 0) s.sent += static_cast<size_t>(w);
    if (s.sent < s.pending.size()) return;
    s.pending.clear();
    if (s.peer == nullptr) return close(s);  // the other side ended: all it sent is delivered
    update(s);
    update(*s.peer);
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  Side* peer = s.peer;
  // Not registered for reading then: an error or hangup, and what is pending cannot leave.
  if (peer == nullptr || !peer->pending.empty()) return close(s);
  const ssize_t r = read(s.fd, buffer_.data(), buffer_.size());
  if (r < 0 && errno == EAGAIN) return;
  if (r <= 0) return close(s);  // EOF or error: both sides end
  const ssize_t w = write(peer->fd, buffer_.data(), static_cast<size_t>(r));
  if (w < 0 && errno != EAGAIN) return close(s);
  const size_t written = w < 0 ? 0 : static_cast<size_t>(w);
  if (written < static_cast<size_t>(r)) {
    peer->pending.assign(buffer_.data() + written, buffer_.data() + r);
    peer->sent = 0;
    update(*peer);
    update(s);
  }
}

// Closes s, and its peer unless the peer still has bytes to send: then it closes once they left.
void Relay::close(Side& s) {
  s.closed = true;
  ::close(s.fd);  // removes it from the epoll set
  closed_.push_back(&s);
  Side* peer = s.peer;
  if (peer == nullptr) return;
  peer->peer = nullptr;
  if (peer->pending.empty()) {
    close(*peer);
  } else {
    update(*peer);
  }
}

// Receives up to kBatch datagrams into in_: the headers point at in_'s buffers once for all,
// and only what recvmmsg overwrites is reset.
Relay::Relay() : epoll_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_ < 0) die("epoll_create1");
  for (unsigned i = 0; i < kBatch; ++i) {
    Datagram& d = in_[i];
    d.iov = {d.data.data(), d.data.size()};
    in_headers_[i].msg_hdr = {&d.from, 0, &d.iov, 1, d.control.data(), 0, 0};
    out_headers_[i].msg_hdr = {&out_to_[i], sizeof(sockaddr_in), &out_iov_[i], 1, nullptr, 0, 0};
  }
}

int Relay::receive(int fd) {
  for (mmsghdr& h : in_headers_) {
    h.msg_hdr.msg_namelen = sizeof(sockaddr_in);
    h.msg_hdr.msg_controllen = sizeof(Datagram::control);
  }
  return recvmmsg(fd, in_headers_.data(), kBatch, MSG_DONTWAIT, nullptr);
}

void sendAll(int fd, mmsghdr* headers, unsigned count) {
  while (count > 0) {
    const int sent = sendmmsg(fd, headers, count, MSG_DONTWAIT);
    if (sent < 0 && errno == EINTR) continue;
    const unsigned done = sent > 0 ? static_cast<unsigned>(sent) : 1;  // a failed one is dropped
    headers += done;
    count -= done;
  }
}

void Relay::readQueries() {
  for (;;) {
    const int n = receive(udp_listener_);
    if (n <= 0) return;
    unsigned out = 0;
    for (int i = 0; i < n; ++i) {
      msghdr& h = in_headers_[i].msg_hdr;
      Datagram& d = in_[i];
      sockaddr_in server{};
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR) {
          std::memcpy(&server, CMSG_DATA(c), sizeof server);
        }
      }
      if (server.sin_family != AF_INET || isListener(server, udp_port_) ||
          in_headers_[i].msg_len < 12) {
        continue;
      }
      // The slot of a query 65,536 queries old is taken over: its answer, if any, is dropped.
      const uint16_t id = next_id_++;
      Query& q = queries_[id];
      q = {d.from, server, 0, true};
      std::memcpy(&q.client_id, d.data.data(), 2);
      const uint16_t wire_id = htons(id);
      std::memcpy(d.data.data(), &wire_id, 2);
      out_to_[out] = q.server;
      out_iov_[out] = {d.data.data(), in_headers_[i].msg_len};
      ++out;
    }
    sendAll(upstream_, out_headers_.data(), out);
    if (n < static_cast<int>(kBatch)) return;
  }
}

void Relay::readAnswers() {
  for (;;) {
    const int n = receive(upstream_);
    if (n <= 0) return;
    unsigned out = 0;
    for (int i = 0; i < n; ++i) {
      Datagram& d = in_[i];
      if (in_headers_[i].msg_len < 12) continue;
      uint16_t wire_id;
      std::memcpy(&wire_id, d.data.data(), 2);
      Query& q = queries_[ntohs(wire_id)];
      if (!q.used || q.server.sin_addr.s_addr != d.from.sin_addr.s_addr ||
          q.server.sin_port != d.from.sin_port) {
        continue;
      }
      q.used = false;
      std::memcpy(d.data.data(), &q.client_id, 2);
      out_fds_[out] = replySocket(q.server);
      out_to_[out] = q.client;
      out_iov_[out] = {d.data.data(), in_headers_[i].msg_len};
      ++out;
    }
    // One sendmmsg per run of answers from the same server, as DnsUdpReplyBatch.
    for (unsigned first = 0; first < out;) {
      unsigned last = first + 1;
      while (last < out && out_fds_[last] == out_fds_[first]) ++last;
      sendAll(out_fds_[first], &out_headers_[first], last - first);
      first = last;
    }
    if (n < static_cast<int>(kBatch)) return;
  }
}

// As DnsReplySockets::open: transparent, marked, bound and connected to the server's address.
int Relay::replySocket(const sockaddr_in& server) {
  const auto key = std::make_pair(server.sin_addr.s_addr, server.sin_port);
  if (auto it = reply_sockets_.find(key); it != reply_sockets_.end()) return it->second;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  setInt(fd, SOL_IP, IP_TRANSPARENT, 1);
  setInt(fd, SOL_SOCKET, SO_MARK, kAnswerMark);
  setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  setInt(fd, SOL_SOCKET, SO_RCVBUF, 1);
  const auto* at = reinterpret_cast<const sockaddr*>(&server);
  if (bind(fd, at, sizeof server) != 0 || connect(fd, at, sizeof server) != 0) die("reply socket");
  reply_sockets_.emplace(key, fd);
  return fd;
}

uint16_t portArgument(const char* text) {
  const long port = std::strtol(text, nullptr, 10);
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "bad port %s\n", text);
    std::exit(2);
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

int main(int argc, char** argv) {
  auto relay = std::make_unique<Relay>();
  bool listening = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    if (option == "--tcp") {
      relay->listenTcp(portArgument(argv[i + 1]));
    } else if (option == "--udp") {
      relay->listenUdp(portArgument(argv[i + 1]));
    } else {
      break;
    }
    listening = true;
  }
  if (!listening || argc % 2 == 0) {
    std::fprintf(stderr, "usage: floor_relay [--tcp PORT] [--udp PORT]\n");
    return 2;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  relay->run();
}

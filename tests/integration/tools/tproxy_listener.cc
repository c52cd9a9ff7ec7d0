// A stand-in for a proxy listener in the integration tests: binds PORT on BIND (v4 or v6) with
// IP_TRANSPARENT for TCP and UDP, and prints one line per flow with the original destination
// the datapath preserved:
//   tcp 198.18.1.2:40000 -> 198.18.2.2:80
//   udp 198.18.1.2:40001 -> 198.18.2.2:53
// A TCP client also gets its line back. Exits after COUNT flows or SECONDS seconds (exit 1).
//
// usage: tproxy_listener BIND PORT COUNT SECONDS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

std::string text(const sockaddr_storage& sa) {
  char host[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (sa.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(sa);
    inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
    port = ntohs(v4.sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(sa);
  inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
  port = ntohs(v6.sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(2);
}

int open(int family, int type, const sockaddr_storage& address, socklen_t length) {
  const int fd = socket(family, type, 0);
  if (fd < 0) die("socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool v4 = family == AF_INET;
  if (setsockopt(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_TRANSPARENT : IPV6_TRANSPARENT, &one, sizeof one) != 0)
    die("IP_TRANSPARENT");
  if (type == SOCK_DGRAM &&
      setsockopt(fd, v4 ? SOL_IP : SOL_IPV6, v4 ? IP_RECVORIGDSTADDR : IPV6_RECVORIGDSTADDR, &one, sizeof one) != 0)
    die("RECVORIGDSTADDR");
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) die("bind");
  if (type == SOCK_STREAM && listen(fd, 16) != 0) die("listen");
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s BIND PORT COUNT SECONDS\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[2]);
  int remaining = std::atoi(argv[3]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(argv[4]));
  sockaddr_storage address{};
  socklen_t length = 0;
  int family = AF_INET;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&address); inet_pton(AF_INET, argv[1], &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&address); inet_pton(AF_INET6, argv[1], &v6->sin6_addr) == 1) {
    v6->sin6_family = family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
  } else {
    std::fprintf(stderr, "bad address %s\n", argv[1]);
    return 2;
  }
  const int tcp = open(family, SOCK_STREAM, address, length);
  const int udp = open(family, SOCK_DGRAM, address, length);
  std::printf("ready\n");
  std::fflush(stdout);
  while (remaining > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      std::fprintf(stderr, "timed out with %d flows missing\n", remaining);
      return 1;
    }
    pollfd fds[2] = {{tcp, POLLIN, 0}, {udp, POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      sockaddr_storage peer{}, local{};
      socklen_t peer_length = sizeof peer, local_length = sizeof local;
      const int conn = accept(tcp, reinterpret_cast<sockaddr*>(&peer), &peer_length);
      if (conn < 0) continue;
      // With TPROXY the accepted socket's local address is the client's original destination.
      getsockname(conn, reinterpret_cast<sockaddr*>(&local), &local_length);
      const std::string line = "tcp " + text(peer) + " -> " + text(local) + "\n";
      std::fputs(line.c_str(), stdout);
      std::fflush(stdout);
      [[maybe_unused]] auto n = write(conn, line.data(), line.size());
      close(conn);
      --remaining;
    }
    if (fds[1].revents & POLLIN) {
      char payload[2048];
      char control[256];
      sockaddr_storage peer{};
      iovec iov{payload, sizeof payload};
      msghdr msg{};
      msg.msg_name = &peer;
      msg.msg_namelen = sizeof peer;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      if (recvmsg(udp, &msg, 0) < 0) continue;
      sockaddr_storage original{};
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR) ||
            (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR))
          std::memcpy(&original, CMSG_DATA(c), std::min<size_t>(c->cmsg_len - CMSG_LEN(0), sizeof original));
      }
      std::printf("udp %s -> %s\n", text(peer).c_str(), text(original).c_str());
      std::fflush(stdout);
      --remaining;
    }
  }
  return 0;
}

// A DNS server that answers every UDP query with the TC (truncated) bit set and no records, so
// the integration tests can check that a proxy passes a truncated answer through untouched:
// ID and question echoed, QR, RD copied, TC set, RCODE NOERROR, all record counts but QDCOUNT 0.
// Datagrams shorter than a DNS header are ignored. Exits 0 after SECONDS seconds.
//
// usage: dns_tc_server ADDRESS PORT SECONDS     (ADDRESS is IPv4 or IPv6)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr size_t kHeaderBytes = 12;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(2);
}

// RFC 1035 4.1.1: the answer copies the query's ID, opcode and RD; QR and TC are set. The
// question section is echoed, so everything after the header that belongs to it stays; the
// counts of the other sections are zeroed and whatever followed the question (EDNS0 OPT) is
// cut, which a truncated answer may do (RFC 2181 9).
size_t truncatedAnswer(uint8_t* message, size_t length) {
  size_t end = kHeaderBytes;
  const unsigned questions = (message[4] << 8) | message[5];
  for (unsigned q = 0; q < questions && end < length; ++q) {
    while (end < length && message[end] != 0) {
      if ((message[end] & 0xc0) == 0xc0) {  // a compression pointer ends the name
        ++end;
        break;
      }
      end += message[end] + 1u;
    }
    end += 1 + 4;  // the root label (or pointer's second byte), QTYPE, QCLASS
  }
  if (end > length) end = kHeaderBytes;  // malformed question: answer with the header only
  message[2] = static_cast<uint8_t>(0x80 | (message[2] & 0x79) | 0x02);  // QR, opcode, RD; TC
  message[3] = 0;                                                          // RA off, NOERROR
  if (end == kHeaderBytes) message[4] = message[5] = 0;
  std::memset(message + 6, 0, 6);
  return end;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s ADDRESS PORT SECONDS\n", argv[0]);
    return 2;
  }
  sockaddr_storage address{};
  socklen_t length = 0;
  const auto port = static_cast<uint16_t>(std::atoi(argv[2]));
  auto& v4 = reinterpret_cast<sockaddr_in&>(address);
  auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
  if (inet_pton(AF_INET, argv[1], &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    length = sizeof v4;
  } else if (inet_pton(AF_INET6, argv[1], &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    length = sizeof v6;
  } else {
    std::fprintf(stderr, "not an address: %s\n", argv[1]);
    return 2;
  }
  const int fd = socket(address.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) die("bind");
  std::printf("listening on %s port %u\n", argv[1], port);
  std::fflush(stdout);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(argv[3]));
  uint8_t message[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    const ssize_t n =
        recvfrom(fd, message, sizeof message, 0, reinterpret_cast<sockaddr*>(&peer), &peer_length);
    if (n < static_cast<ssize_t>(kHeaderBytes)) continue;
    const size_t answer = truncatedAnswer(message, static_cast<size_t>(n));
    sendto(fd, message, answer, 0, reinterpret_cast<const sockaddr*>(&peer), peer_length);
  }
  close(fd);
  return 0;
}

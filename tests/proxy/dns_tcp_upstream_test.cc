// DnsTcpUpstream's read side against a raw server on loopback that writes its answers in chosen
// pieces: many answers in one segment, an answer split across segments at every byte offset.
#include "proxy/dns_tcp_upstream.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "tests/proxy/dns_fake_upstream.h"
#include "tests/proxy/dns_test_support.h"

namespace portcullis::proxy {
namespace {

using namespace testing;  // NOLINT: the message builders
using boost::asio::ip::tcp;
using Bytes = std::vector<uint8_t>;

Bytes framed(const std::vector<Bytes>& messages) {
  Bytes out;
  for (const Bytes& m : messages) {
    put16(out, static_cast<uint16_t>(m.size()));
    append(out, m);
  }
  return out;
}

class DnsTcpUpstreamTest : public ::testing::Test {
 protected:
  DnsTcpUpstreamTest()
      : acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {}

  // Forwards `queries`, lets the server read them all, then has it write their answers (in
  // order, with `extra` frames first) cut at `cuts`; returns the answers `done` got, by ID.
  std::map<uint16_t, Bytes> exchange(const std::vector<Bytes>& queries, std::vector<size_t> cuts,
                                     const std::vector<Bytes>& extra = {}) {
    std::map<uint16_t, Bytes> answers;
    size_t errors = 0;
    auto upstream = std::make_shared<DnsTcpUpstream>(
        io_.get_executor(), acceptor_.local_endpoint(), 0, Duration(std::chrono::seconds(5)),
        [&](DnsTcpUpstream::Query& q, std::error_code ec, std::span<const uint8_t> answer) {
          if (ec) {
            ++errors;
          } else {
            answers[q.query.header.id] = Bytes(answer.begin(), answer.end());
          }
        });
    size_t query_bytes = 0;
    for (const Bytes& q : queries) {
      auto parsed = parseDnsMessage(q);
      EXPECT_TRUE(parsed);
      upstream->forward(q, {parsed.value(), {}});
      query_bytes += 2 + q.size();
    }
    tcp::socket server(io_);
    acceptor_.accept(server);                    // the connect is in the kernel's backlog already
    run(std::chrono::milliseconds(20));  // connected, queries written
    Bytes received(query_bytes);
    boost::asio::read(server, boost::asio::buffer(received));
    EXPECT_EQ(received, framed(queries));
    std::vector<Bytes> frames = extra;
    for (const Bytes& q : queries) frames.push_back(FakeDnsUpstream::answerFor(q));
    const Bytes stream = framed(frames);
    size_t at = 0;
    cuts.push_back(stream.size());
    for (size_t cut : cuts) {
      boost::asio::write(server, boost::asio::buffer(stream.data() + at, cut - at));
      at = cut;
      run(std::chrono::milliseconds(2));  // one read per piece
    }
    for (int i = 0; i < 100 && answers.size() + errors < queries.size(); ++i) {
      run(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(errors, 0u);
    EXPECT_EQ(upstream->pending(), 0u);
    upstream->close();
    run(std::chrono::milliseconds(1));
    return answers;
  }

  // The context stops whenever it runs out of work: restarted for each run.
  void run(std::chrono::milliseconds duration) {
    io_.restart();
    io_.run_for(duration);
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
};

TEST_F(DnsTcpUpstreamTest, ManyAnswersInOneSegment) {
  std::vector<Bytes> queries;
  for (uint16_t id = 1; id <= 30; ++id) queries.push_back(query(id, "www.example.test"));
  const auto answers = exchange(queries, {});
  ASSERT_EQ(answers.size(), 30u);
  for (const Bytes& q : queries) EXPECT_EQ(answers.at(idOf(q)), FakeDnsUpstream::answerFor(q));
}

TEST_F(DnsTcpUpstreamTest, AnswersSplitAtEveryByteOffset) {
  const std::vector<Bytes> queries = {query(7, "a.example.test"), query(8, "cname.example.test")};
  const size_t total = 4 + FakeDnsUpstream::answerFor(queries[0]).size() +
                       FakeDnsUpstream::answerFor(queries[1]).size();
  for (size_t cut = 1; cut < total; ++cut) {
    const auto answers = exchange(queries, {cut});
    ASSERT_EQ(answers.size(), 2u) << "cut at " << cut;
    EXPECT_EQ(answers.at(7), FakeDnsUpstream::answerFor(queries[0])) << "cut at " << cut;
    EXPECT_EQ(answers.at(8), FakeDnsUpstream::answerFor(queries[1])) << "cut at " << cut;
  }
}

TEST_F(DnsTcpUpstreamTest, EmptyAndUnmatchedFramesAreSkipped) {
  const std::vector<Bytes> queries = {query(3, "www.example.test")};
  // An empty frame, a frame too short for a header and an answer nobody asked for.
  const auto answers = exchange(
      queries, {1, 3}, {Bytes{}, Bytes{1, 2, 3}, FakeDnsUpstream::answerFor(query(99, "x.test"))});
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers.at(3), FakeDnsUpstream::answerFor(queries[0]));
}

}  // namespace
}  // namespace portcullis::proxy

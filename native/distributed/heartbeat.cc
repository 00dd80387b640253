// The heartbeat between ranks (design in heartbeat.h).
#include "heartbeat.h"

#include <cstdio>

#include "mpi_library.h"

namespace cr::dist {
namespace {
constexpr int kTag = 7;
constexpr double kSilentSeconds = 2;
}  // namespace

void Heartbeat::post(int peer) {
  const mpi::Api& api = mpi::api();
  if (api.MPI_Irecv(&peers_[peer].received, sizeof(int64_t), api.ompi_mpi_byte, peer, kTag, comm_, &peers_[peer].receive) != mpi::MPI_SUCCESS) {
    peers_[peer].receive = nullptr;
  }
}

void Heartbeat::start(int rank, int size) {
  const mpi::Api& api = mpi::api();
  rank_ = rank;
  started_ = lastSent_ = lastDrained_ = Clock::now();
  peers_.assign(static_cast<size_t>(size), Peer{});
  CR_MPI_CHECK(api.MPI_Comm_dup(api.ompi_mpi_comm_world, &comm_));
  CR_MPI_CHECK(api.MPI_Comm_set_errhandler(comm_, api.ompi_mpi_errors_return));
  for (int p = 0; p < size; ++p) {
    peers_[p].lastHeard = started_;
    if (p != rank_) post(p);
  }
}

void Heartbeat::beat(int64_t started) {
  if (comm_ == nullptr) return;
  const mpi::Api& api = mpi::api();
  const Clock::time_point now = Clock::now();
  if (now - lastDrained_ < std::chrono::milliseconds(100)) return;
  lastDrained_ = now;
  for (int p = 0; p < static_cast<int>(peers_.size()); ++p) {
    if (p == rank_) continue;
    Peer& peer = peers_[p];
    int flag = 0;
    while (peer.receive != nullptr && api.MPI_Test(&peer.receive, &flag, nullptr) == mpi::MPI_SUCCESS && flag) {
      peer.started = peer.received;
      peer.heard = true;
      peer.lastHeard = now;
      post(p);
    }
  }
  if (now - lastSent_ < std::chrono::seconds(1)) return;
  lastSent_ = now;
  for (int p = 0; p < static_cast<int>(peers_.size()); ++p) {
    if (p == rank_) continue;
    Peer& peer = peers_[p];
    int flag = 1;
    if (peer.send != nullptr && (api.MPI_Test(&peer.send, &flag, nullptr) != mpi::MPI_SUCCESS || !flag)) continue;
    peer.sent = started;
    if (api.MPI_Isend(&peer.sent, sizeof(int64_t), api.ompi_mpi_byte, p, kTag, comm_, &peer.send) != mpi::MPI_SUCCESS) {
      peer.send = nullptr;
    }
  }
}

std::string Heartbeat::laggards(int64_t started) {
  const Clock::time_point now = Clock::now();
  std::string text;
  char line[200];
  for (int p = 0; p < static_cast<int>(peers_.size()); ++p) {
    if (p == rank_) continue;
    const Peer& peer = peers_[p];
    const double silent = std::chrono::duration<double>(now - peer.lastHeard).count();
    if (silent > kSilentSeconds) {
      std::snprintf(line, sizeof(line), "rank %d has been silent for %.1f s (dead, hung or unreachable)", p, silent);
    } else if (peer.heard && peer.started < started) {
      std::snprintf(line, sizeof(line), "rank %d is alive but has not started it (it has started %lld collectives, this rank %lld)", p,
                    static_cast<long long>(peer.started), static_cast<long long>(started));
    } else {
      continue;
    }
    text += (text.empty() ? "" : "; ") + std::string(line);
  }
  return text;
}

void Heartbeat::stop() {
  if (comm_ == nullptr) return;
  const mpi::Api& api = mpi::api();
  for (Peer& peer : peers_) {
    if (peer.receive != nullptr) {
      api.MPI_Cancel(&peer.receive);
      api.MPI_Request_free(&peer.receive);
    }
    if (peer.send != nullptr) api.MPI_Request_free(&peer.send);
  }
  api.MPI_Comm_free(&comm_);
  comm_ = nullptr;
}

}  // namespace cr::dist

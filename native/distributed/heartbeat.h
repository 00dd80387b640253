// Liveness of the other ranks, so that a collective that misses its deadline can name the rank
// it waits for. Every rank's communication thread sends, about once a second (while it waits
// for a collective and while it is idle), the number of collectives it has started to every
// other rank, on a duplicate of MPI_COMM_WORLD; it records when it last heard from each.
// All calls come from the communication thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "mpi_api.h"

namespace cr::dist {

class Heartbeat {
 public:
  void start(int rank, int size);
  // Sends this rank's count when a second has passed since the last send, and takes in what
  // arrived. Failures (a peer gone) are not errors here: they show as silence.
  void beat(int64_t started);
  // The ranks a collective that this rank started as its `started`-th waits for: those behind
  // it, and those silent for more than 2 s. Empty when every other rank is there.
  std::string laggards(int64_t started);
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct Peer {
    int64_t received = 0;   // the receive buffer
    int64_t sent = 0;       // the send buffer
    int64_t started = 0;    // the peer's last count heard
    bool heard = false;
    Clock::time_point lastHeard;
    mpi::MPI_Request receive = nullptr;
    mpi::MPI_Request send = nullptr;
  };
  void post(int peer);
  int rank_ = 0;
  mpi::MPI_Comm comm_ = nullptr;
  std::vector<Peer> peers_;
  Clock::time_point started_, lastSent_, lastDrained_;
};

}  // namespace cr::dist

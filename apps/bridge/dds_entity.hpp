// RAII for Cyclone DDS entities, and DDS return codes as shmkit::Error.
#pragma once

#include <dds/dds.h>

#include <string>
#include <utility>

namespace shmkit::bridge {

// Owns one DDS entity (participant, topic, reader, writer, waitset...); deleting it deletes its
// children too.
class DdsEntity {
 public:
  DdsEntity() noexcept = default;
  explicit DdsEntity(dds_entity_t e) noexcept : e_(e) {}
  DdsEntity(DdsEntity&& o) noexcept : e_(std::exchange(o.e_, 0)) {}
  DdsEntity& operator=(DdsEntity&& o) noexcept {
    if (this != &o) {
      reset();
      e_ = std::exchange(o.e_, 0);
    }
    return *this;
  }
  DdsEntity(const DdsEntity&) = delete;
  DdsEntity& operator=(const DdsEntity&) = delete;
  ~DdsEntity() { reset(); }

  dds_entity_t get() const noexcept { return e_; }
  void reset() noexcept {
    if (e_ > 0) dds_delete(e_);
    e_ = 0;
  }

 private:
  dds_entity_t e_ = 0;
};

// Owns a dds_qos_t.
class DdsQos {
 public:
  DdsQos() : q_(dds_create_qos()) {}
  DdsQos(const DdsQos&) = delete;
  DdsQos& operator=(const DdsQos&) = delete;
  ~DdsQos() { dds_delete_qos(q_); }
  dds_qos_t* get() const noexcept { return q_; }

 private:
  dds_qos_t* q_;
};

// An entity handle or return code from DDS: throws Error(io_error) naming `what` when negative.
dds_entity_t dds_check(dds_entity_t result, const std::string& what);

}  // namespace shmkit::bridge

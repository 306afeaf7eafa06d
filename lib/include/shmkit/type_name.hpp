// The name shmkit records for a type in every named object's tag: one spelling whatever the
// compiler, so a program built with clang++ and one built with g++ share objects.
//
//  - shmkit's own types are spelled as you write them, defaults left out:
//    shmkit::map<shmkit::string, shmkit::vector<double>>, shmkit::Mutex, std::uint64_t, Point[4].
//  - Other types take the compiler's spelling, normalised where gcc and clang differ (integer
//    keyword order, literal suffixes, anonymous namespaces, "> >", <void> as <>).
//  - A type may be named explicitly, which also keeps its identity when it is renamed or moved:
//        struct Pose { static constexpr std::string_view shmkit_type_name = "robot::Pose"; ... };
//    or, outside the type: SHMKIT_TYPE_NAME(robot::Pose, "robot::Pose");  (at global scope)
//    Name templates of your own this way when their arguments are shmkit containers.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <type_traits>

namespace shmkit {

template <class T>
struct type_name_of;

namespace detail {

template <std::size_t N>
struct NameBuffer {
  char chars[N + 1] = {};
  constexpr std::string_view view() const noexcept { return {chars, N}; }
};

// The concatenation of strings with static storage, as a string with static storage.
template <const std::string_view&... Parts>
struct Join {
  static constexpr std::size_t size = (Parts.size() + ... + 0);
  static constexpr NameBuffer<size> buffer = [] {
    NameBuffer<size> b;
    std::size_t i = 0;
    ((void)[&] {
      for (char c : Parts) b.chars[i++] = c;
    }(), ...);
    return b;
  }();
  static constexpr std::string_view value = buffer.view();
};

template <std::size_t N>
struct Decimal {
  static constexpr std::size_t digits = [] {
    std::size_t d = 1;
    for (std::size_t v = N; v >= 10; v /= 10) ++d;
    return d;
  }();
  static constexpr NameBuffer<digits> buffer = [] {
    NameBuffer<digits> b;
    std::size_t v = N;
    for (std::size_t i = digits; i-- > 0; v /= 10) b.chars[i] = static_cast<char>('0' + v % 10);
    return b;
  }();
  static constexpr std::string_view value = buffer.view();
};

inline constexpr std::string_view kOpen = "<";
inline constexpr std::string_view kClose = ">";
inline constexpr std::string_view kComma = ", ";
inline constexpr std::string_view kOpenBracket = "[";
inline constexpr std::string_view kCloseBracket = "]";

// The compiler's spelling of T (no RTTI needed).
template <class T>
constexpr std::string_view compiler_type_name() noexcept {
  std::string_view p = __PRETTY_FUNCTION__;
  const auto start = p.find("T = ") + 4;
  const auto end = p.find_first_of(";]", start);
  return p.substr(start, end - start);
}

constexpr bool is_ident_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Writes the normalised spelling of `in` to `out` (when not null); returns its length.
// gcc and clang agree once integer keywords are in one order ("long unsigned int" and
// "unsigned long" both become "unsigned long"), literal suffixes are gone (4UL -> 4), anonymous
// namespaces are spelled "(anonymous namespace)", closing brackets are not spaced, and a lone
// void argument is left out as clang leaves out defaults (gcc's std::greater<void> is std::greater<>).
constexpr std::size_t normalize_type_name(std::string_view in, char* out) noexcept {
  std::size_t n = 0;
  auto put = [&](std::string_view s) {
    for (char c : s) {
      if (out != nullptr) out[n] = c;
      ++n;
    }
  };
  constexpr std::string_view kGccAnon = "{anonymous}";
  constexpr std::string_view kVoidArgument = "<void>";
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (in.substr(i).starts_with(kGccAnon)) {
      put("(anonymous namespace)");
      i += kGccAnon.size();
    } else if (in.substr(i).starts_with(kVoidArgument)) {
      put("<>");
      i += kVoidArgument.size();
    } else if (c == ' ' && n > 0 && i + 1 < in.size() && in[i + 1] == '>' &&
               (out == nullptr || out[n - 1] == '>')) {
      ++i;  // "> >" -> ">>"
    } else if (c >= '0' && c <= '9' && (i == 0 || !is_ident_char(in[i - 1]))) {
      while (i < in.size() && in[i] >= '0' && in[i] <= '9') put(in.substr(i++, 1));
      std::size_t j = i;
      while (j < in.size() && (in[j] == 'u' || in[j] == 'U' || in[j] == 'l' || in[j] == 'L')) ++j;
      if (j == in.size() || !is_ident_char(in[j])) i = j;  // drop the literal suffix
    } else if (is_ident_char(c) && (i == 0 || !is_ident_char(in[i - 1]))) {
      // A run of integer keywords ("long unsigned int") becomes clang's spelling.
      bool is_unsigned = false, is_signed = false, is_short = false, is_char = false, is_int = false;
      int longs = 0;
      std::size_t j = i, end_of_run = i;
      for (;;) {
        std::size_t k = j;
        while (k < in.size() && is_ident_char(in[k])) ++k;
        const std::string_view word = in.substr(j, k - j);
        if (word == "unsigned") is_unsigned = true;
        else if (word == "signed") is_signed = true;
        else if (word == "short") is_short = true;
        else if (word == "long") ++longs;
        else if (word == "char") is_char = true;
        else if (word == "int") is_int = true;
        else break;
        end_of_run = k;
        if (k < in.size() && in[k] == ' ' && k + 1 < in.size() && is_ident_char(in[k + 1]))
          j = k + 1;
        else
          break;
      }
      if (end_of_run == i) {  // not an integer keyword: copy the identifier
        std::size_t k = i;
        while (k < in.size() && is_ident_char(in[k])) ++k;
        put(in.substr(i, k - i));
        i = k;
        continue;
      }
      if (is_char) put(is_unsigned ? "unsigned char" : is_signed ? "signed char" : "char");
      else {
        if (is_unsigned) put("unsigned ");
        if (is_short) put("short");
        else if (longs == 2) put("long long");
        else if (longs == 1) put("long");
        else put("int");
      }
      (void)is_int;
      i = end_of_run;
    } else {
      put(in.substr(i++, 1));
    }
  }
  return n;
}

template <class T>
struct NormalizedName {
  static constexpr std::string_view raw = compiler_type_name<T>();
  static constexpr std::size_t size = normalize_type_name(raw, nullptr);
  static constexpr NameBuffer<size> buffer = [] {
    NameBuffer<size> b;
    normalize_type_name(raw, b.chars);
    return b;
  }();
  static constexpr std::string_view value = buffer.view();
};

template <class T>
constexpr std::string_view default_type_name() noexcept {
  if constexpr (requires { T::shmkit_type_name; })
    return std::string_view(T::shmkit_type_name);
  else
    return NormalizedName<T>::value;
}

// "prefix<A>" / "prefix<A, B>" from the names of the arguments.
template <const std::string_view& Prefix, class... Args>
struct TemplateName;
template <const std::string_view& Prefix, class A>
struct TemplateName<Prefix, A> : Join<Prefix, kOpen, type_name_of<A>::value, kClose> {};
template <const std::string_view& Prefix, class A, class B>
struct TemplateName<Prefix, A, B> : Join<Prefix, kOpen, type_name_of<A>::value, kComma, type_name_of<B>::value, kClose> {};
template <const std::string_view& Prefix, class A, class B, class C>
struct TemplateName<Prefix, A, B, C>
    : Join<Prefix, kOpen, type_name_of<A>::value, kComma, type_name_of<B>::value, kComma, type_name_of<C>::value,
           kClose> {};

template <std::size_t Bytes, bool Signed>
inline constexpr std::string_view kIntegerName = "";
template <> inline constexpr std::string_view kIntegerName<1, true> = "std::int8_t";
template <> inline constexpr std::string_view kIntegerName<2, true> = "std::int16_t";
template <> inline constexpr std::string_view kIntegerName<4, true> = "std::int32_t";
template <> inline constexpr std::string_view kIntegerName<8, true> = "std::int64_t";
template <> inline constexpr std::string_view kIntegerName<1, false> = "std::uint8_t";
template <> inline constexpr std::string_view kIntegerName<2, false> = "std::uint16_t";
template <> inline constexpr std::string_view kIntegerName<4, false> = "std::uint32_t";
template <> inline constexpr std::string_view kIntegerName<8, false> = "std::uint64_t";

inline constexpr std::string_view kStdAtomic = "std::atomic";

}  // namespace detail

// The canonical name of T. Specialize it (or use SHMKIT_TYPE_NAME) to name a type explicitly.
template <class T>
struct type_name_of {
  static constexpr std::string_view value = [] {
    if constexpr (!std::is_same_v<T, std::remove_cv_t<T>>)
      return type_name_of<std::remove_cv_t<T>>::value;
    else if constexpr (std::is_same_v<T, bool>)
      return std::string_view("bool");
    else if constexpr (std::is_same_v<T, char>)
      return std::string_view("char");
    else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char8_t> &&
                       !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>)
      return detail::kIntegerName<sizeof(T), std::is_signed_v<T>>;  // one name per size, as <cstdint> spells it
    else if constexpr (std::is_same_v<T, float>)
      return std::string_view("float");
    else if constexpr (std::is_same_v<T, double>)
      return std::string_view("double");
    else
      return detail::default_type_name<T>();
  }();
};

template <class T, std::size_t N>
struct type_name_of<T[N]>
    : detail::Join<type_name_of<T>::value, detail::kOpenBracket, detail::Decimal<N>::value, detail::kCloseBracket> {};

template <class T>
struct type_name_of<std::atomic<T>> : detail::TemplateName<detail::kStdAtomic, T> {};

template <class T>
inline constexpr std::string_view type_name_v = type_name_of<T>::value;

template <class T>
constexpr std::string_view type_name() noexcept {
  return type_name_v<T>;
}

}  // namespace shmkit

// Names a type explicitly (at global scope): SHMKIT_TYPE_NAME(robot::Pose, "robot::Pose");
#define SHMKIT_TYPE_NAME(Type, Name)                    \
  template <>                                           \
  struct shmkit::type_name_of<Type> {                   \
    static constexpr std::string_view value = (Name);  \
  }

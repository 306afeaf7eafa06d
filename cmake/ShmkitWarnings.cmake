# Warnings for shmkit's own targets (never forced on consumers).
function(shmkit_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # Shared-memory layouts keep reserved fields on purpose (the ASan/fuzz build uses clang).
    target_compile_options(${target} PRIVATE -Wno-unused-private-field)
  endif()
  if(SHMKIT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# clang (the ASan + fuzz build): the CRC tables are computed at compile time, beyond clang's
# default constexpr step limit (g++ has none so low).
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_options(-fconstexpr-steps=100000000)
endif()

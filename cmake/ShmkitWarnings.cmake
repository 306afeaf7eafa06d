# Warnings for shmkit's own targets (never forced on consumers).
function(shmkit_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
  if(SHMKIT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# cmake -DEXE=<openshell> -DOUT=<dir> -P GenCompletions.cmake
# Writes the bash, zsh and fish completion scripts the CLI generates from its
# command table; fails the build when the CLI does.
file(MAKE_DIRECTORY ${OUT})
foreach(pair "bash;openshell.bash" "zsh;_openshell" "fish;openshell.fish")
  list(GET pair 0 shell)
  list(GET pair 1 file)
  execute_process(COMMAND ${EXE} completions ${shell} OUTPUT_FILE ${OUT}/${file}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "openshell completions ${shell} failed: ${rc}")
  endif()
endforeach()

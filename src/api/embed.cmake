# Turns INPUT into a C array NAME in OUTPUT (run with cmake -P at build time).
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE "${OUTPUT}" "/* generated from ${INPUT}: do not edit */\nconst unsigned char ${NAME}[] = {${hex} 0x00};\nconst unsigned long ${NAME}_len = sizeof(${NAME}) - 1;\n")

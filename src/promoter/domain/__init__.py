"""Pure Python rules: no I/O, nothing imported from the rest of Promoter."""

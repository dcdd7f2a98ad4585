package assign

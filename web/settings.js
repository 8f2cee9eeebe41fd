// The camera settings page (#settings): not built yet; its section in index.html says what it is for.

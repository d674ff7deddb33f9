package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func countMatches(path, needle string) (int, error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	count := 0
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		if strings.Contains(scanner.Text(), needle) {
			count++
		}
	}
	return count, scanner.

package main

import (
	"encoding/json"
	"net/http"
)

type Greeting struct {
	Message string `json:"message"`
}

func helloHandler(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(Greeting{Message: "hello " + name})
}

func main() {
	http.HandleFunc("/hello", helloHandler)
	http.ListenAndServe(":8080",

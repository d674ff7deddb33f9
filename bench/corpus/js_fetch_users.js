async function fetchUsers(baseUrl, page = 1) {
  const response = await fetch(`${baseUrl}/users?page=${page}`);
  if (!response.ok) {
    throw new Error(`request failed with status ${response.status}`);
  }
  const body = await response.json();
  return body.users.map((user) => ({
    id: user.id,
    name: `${user.firstName} ${user.lastName}`,
    email: user.email.toLowerCase(),
  }));
}

fetchUsers('https://api.example.com').then((users) => {
  for (const user of users) {
    console.log(user.

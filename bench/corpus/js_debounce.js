function debounce(fn, waitMs) {
  let timer = null;
  return function (...args) {
    if (timer !== null) {
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      timer = null;
      fn.apply(this, args);
    }, waitMs);
  };
}

const input = document.querySelector('#search');
const onInput = debounce((event) => search(event.target.value), 250);
input.addEventListener('input',
